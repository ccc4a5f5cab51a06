// Unit tests for examples/execsnoop.ts: exec events whose file name comes from the record's __data_loc string.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
// The tracepoint's format file as Linux 6.x writes it, so the test runs without tracefs.
import { EXEC_FORMAT } from "../test/sim/support.js";

interface ExecEvent {
  pid: number;
  uid: number;
  comm: string;
  filename: string;
}

const execsnoop = () => simulate("examples/execsnoop.ts", { tracepointFormats: { "sched/sched_process_exec": EXEC_FORMAT } });

test("execsnoop: each exec is an event with the pid, user, new task name and the file executed", async () => {
  const sim = await execsnoop();
  sim.tracepoint("sched", "sched_process_exec", { filename: "/usr/bin/ls", pid: 40, old_pid: 40 }, { pid: 40, tgid: 40, uid: 1000, comm: "ls" });
  sim.tracepoint("sched", "sched_process_exec", { filename: "/bin/sh", pid: 41, old_pid: 41 }, { pid: 41, tgid: 41, uid: 0, comm: "sh" });
  assert.deepEqual(sim.events<ExecEvent>("events"), [
    { pid: 40, uid: 1000, comm: "ls", filename: "/usr/bin/ls" },
    { pid: 41, uid: 0, comm: "sh", filename: "/bin/sh" },
  ]);
});

test("execsnoop: a file name longer than the event's Str<128> is cut to 127 bytes", async () => {
  const sim = await execsnoop();
  const long = `/opt/${"d/".repeat(80)}tool`;
  sim.tracepoint("sched", "sched_process_exec", { filename: long, pid: 50, old_pid: 50 }, { pid: 50, comm: "tool" });
  assert.equal(sim.events<ExecEvent>("events")[0]!.filename, long.slice(0, 127));
});
