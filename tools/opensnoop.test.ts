// Unit tests for tools/opensnoop.ts: open(2), openat(2) and openat2(2) calls in bcc's columns with their flags by
// name, and --set failedOnly=1 (bcc's -x).
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const FORMATS = tracepointFormats(...["open", "openat", "openat2"].flatMap((s) => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`]));
const opensnoop = (globals?: Record<string, number>) => simulate("tools/opensnoop.ts", { tracepointFormats: FORMATS, ...(globals ? { globals } : {}) });
const columns = (line: string) => line.trim().split(/\s+/);

test("opensnoop: each open's fd or error, its flags in octal and by name, and the path read at the exit", async () => {
  const sim = await opensnoop();
  sim.begin();
  const task = { pid: 300, comm: "cat" };
  sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename: sim.kernel.userString("/etc/hostname"), flags: 0o2000000, mode: 0 }, task);
  sim.tracepoint("syscalls", "sys_exit_openat", { ret: 3 });
  sim.tracepoint("syscalls", "sys_enter_open", { filename: sim.kernel.userString("/tmp/log"), flags: 0o1 | 0o100 | 0o1000 | 0o2000, mode: 0o644 });
  sim.tracepoint("syscalls", "sys_exit_open", { ret: -13 }); // -EACCES
  const how = sim.kernel.bytes(new Uint8Array([0o202, 0, 0, 0, 0, 0, 0, 0, ...new Array(16).fill(0)]), { user: true }); // O_RDWR | O_EXCL (0o202)
  sim.tracepoint("syscalls", "sys_enter_openat2", { dfd: -100, filename: sim.kernel.userString("/dev/x"), how, usize: 24 });
  sim.tracepoint("syscalls", "sys_exit_openat2", { ret: 5 });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [
    ["PID", "COMM", "FD", "ERR", "FLAGS", "NAMES", "PATH"],
    ["300", "cat", "3", "0", "02000000", "O_RDONLY|O_CLOEXEC", "/etc/hostname"],
    ["300", "cat", "-1", "13", "00003101", "O_WRONLY|O_CREAT|O_TRUNC|O_APPEND", "/tmp/log"],
    ["300", "cat", "5", "0", "00000202", "O_RDWR|O_EXCL", "/dev/x"],
  ]);
  assert.equal(sim.map("pending").toMap().size, 0);
});

test("opensnoop: --set failedOnly=1 prints only the opens that failed; an exit without its entry prints nothing", async () => {
  const sim = await opensnoop({ failedOnly: 1 });
  sim.tracepoint("syscalls", "sys_exit_openat", { ret: -2 }, { pid: 9 });
  for (const [path, ret] of [["/etc/passwd", 4], ["/nonexistent", -2]] as const) {
    sim.tracepoint("syscalls", "sys_enter_openat", { dfd: -100, filename: sim.kernel.userString(path), flags: 0, mode: 0 }, { pid: 10, comm: "ls" });
    sim.tracepoint("syscalls", "sys_exit_openat", { ret });
  }
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [["10", "ls", "-1", "2", "00000000", "O_RDONLY", "/nonexistent"]]);
  assert.equal(sim.map("pending").toMap().size, 0, "a successful open leaves the map too");
});
