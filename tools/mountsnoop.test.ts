// Unit tests for tools/mountsnoop.ts: mount(2), umount(2) and move_mount(2) printed as calls with their arguments,
// result and the caller's mount namespace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const FORMATS = tracepointFormats(...["mount", "umount", "move_mount"].flatMap((s) => [`syscalls/sys_enter_${s}`, `syscalls/sys_exit_${s}`]));

const mountsnoop = async () => {
  const sim = await simulate("tools/mountsnoop.ts", { tracepointFormats: FORMATS });
  const mntNs = sim.kernel.alloc("mnt_namespace", { ns: { inum: 4026531832 } });
  const task = sim.kernel.alloc("task_struct", { pid: 500, tgid: 500, nsproxy: sim.kernel.alloc("nsproxy", { mnt_ns: mntNs }) });
  sim.kernel.setTask({ pid: 500, comm: "mount" });
  sim.kernel.currentTask = task.address;
  return sim;
};

test("mountsnoop: a mount and an umount with their arguments, results and mount namespace", async () => {
  const sim = await mountsnoop();
  sim.begin();
  const s = (text: string) => sim.kernel.userString(text);
  sim.tracepoint("syscalls", "sys_enter_mount", { dev_name: s("none"), dir_name: s("/tmp/m"), type: s("tmpfs"), flags: 0x6, data: s("size=1m") });
  sim.tracepoint("syscalls", "sys_exit_mount", { ret: 0 });
  sim.tracepoint("syscalls", "sys_enter_umount", { name: s("/nonexistent"), flags: 2 });
  sim.tracepoint("syscalls", "sys_exit_umount", { ret: -22 });
  assert.deepEqual(sim.output().split("\n").map((l) => l.replace(/ +/g, " ")), [
    "COMM PID TID MNT_NS CALL",
    'mount 500 500 4026531832 mount("none", "/tmp/m", "tmpfs", 0x6, "size=1m") = 0',
    'mount 500 500 4026531832 umount("/nonexistent", 0x2) = -22',
    "",
  ]);
  assert.equal(sim.map("calls").toMap().size, 0);
});

test("mountsnoop: move_mount's descriptors and paths; a mount without data; an exit without its entry prints nothing", async () => {
  const sim = await mountsnoop();
  sim.tracepoint("syscalls", "sys_exit_mount", { ret: 0 });
  const s = (text: string) => sim.kernel.userString(text);
  sim.tracepoint("syscalls", "sys_enter_move_mount", { from_dfd: 3, from_pathname: s(""), to_dfd: -100, to_pathname: s("/mnt"), flags: 0x4 });
  sim.tracepoint("syscalls", "sys_exit_move_mount", { ret: 0 });
  sim.tracepoint("syscalls", "sys_enter_mount", { dev_name: s("/a"), dir_name: s("/b"), type: 0, flags: 0x1000, data: 0 });
  sim.tracepoint("syscalls", "sys_exit_mount", { ret: 0 });
  assert.deepEqual(sim.output().split("\n").map((l) => l.replace(/ +/g, " ")), [
    'mount 500 500 4026531832 move_mount(3, "", -100, "/mnt", 0x4) = 0',
    'mount 500 500 4026531832 mount("/a", "/b", "", 0x1000, "") = 0',
    "",
  ]);
});
