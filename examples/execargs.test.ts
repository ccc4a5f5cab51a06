// Unit tests for examples/execargs.ts: execve(2) arguments read from the user's argv, one pointer at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.18 writes it, so the test runs without tracefs.
import { tracepointFormat } from "../test/support/fixture-kernel.js";

interface Exec {
  pid: number;
  argc: number;
  comm: string;
  args: string[];
}

const execargs = async () => {
  const sim = await simulate("examples/execargs.ts", { tracepointFormats: { "syscalls/sys_enter_execve": tracepointFormat("syscalls", "sys_enter_execve")! } });
  /** execve(argv[0], argv, envp) from the task `comm`: argv in user memory, NULL-terminated. */
  const execve = (comm: string, argv: string[]) => {
    const pointers = new BigUint64Array([...argv.map((a) => sim.kernel.userString(a).address), 0n]);
    const array = sim.kernel.bytes(new Uint8Array(pointers.buffer), { user: true });
    return sim.tracepoint("syscalls", "sys_enter_execve", { filename: sim.kernel.userString(argv[0] ?? ""), argv: array, envp: 0 }, { pid: 70, tgid: 70, comm });
  };
  return { sim, execve };
};

test("execargs: each execve is an event with its arguments, up to the NULL that ends argv", async () => {
  const { sim, execve } = await execargs();
  execve("bash", ["ls", "-la", "/tmp"]);
  execve("bash", []);
  assert.deepEqual(sim.events<Exec>("execs"), [
    { pid: 70, argc: 3, comm: "bash", args: ["ls", "-la", "/tmp", "", "", ""] },
    { pid: 70, argc: 0, comm: "bash", args: ["", "", "", "", "", ""] },
  ]);
});

test("execargs: past six arguments the rest are left out, and a long one is cut to 47 bytes", async () => {
  const { sim, execve } = await execargs();
  const long = "x".repeat(60);
  execve("make", ["cc", "-c", long, "-o", "a.o", "-O2", "-g", "-Wall"]);
  assert.deepEqual(sim.events<Exec>("execs"), [{ pid: 70, argc: 6, comm: "make", args: ["cc", "-c", long.slice(0, 47), "-o", "a.o", "-O2"] }]);
});

test("execargs: an argv the kernel cannot read gives no arguments rather than failing", async () => {
  const { sim } = await execargs();
  sim.tracepoint("syscalls", "sys_enter_execve", { filename: 0, argv: sim.kernel.faulting(undefined, { user: true }), envp: 0 }, { pid: 71, tgid: 71, comm: "sh" });
  assert.deepEqual(sim.events<Exec>("execs"), [{ pid: 71, argc: 0, comm: "sh", args: ["", "", "", "", "", ""] }]);
});
