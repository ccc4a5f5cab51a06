// Unit tests for tools/signals.ts: generated signals counted by signal and receiver, or as dropped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("signals: a queued signal counts under its number and receiver; an ignored or pending one as dropped", async () => {
  const sim = await simulate("tools/signals.ts", { tracepointFormats: tracepointFormats("signal/signal_generate") });
  const generate = (sig: number, pid: number, comm: string, result = 0) => sim.tracepoint("signal", "signal_generate", { sig, errno: 0, code: 0, comm, pid, group: 1, result });
  generate(15, 300, "nginx");
  generate(15, 300, "nginx");
  generate(17, 1, "systemd");
  generate(17, 1, "systemd", 1); // TRACE_SIGNAL_IGNORED
  generate(10, 301, "worker", 2); // TRACE_SIGNAL_ALREADY_PENDING
  assert.deepEqual(sim.map("received").toMap(), new Map([
    [{ signal: 15, pid: 300, comm: "nginx" }, 2n],
    [{ signal: 17, pid: 1, comm: "systemd" }, 1n],
  ]));
  assert.deepEqual(sim.map("dropped").toMap(), new Map([[17, 1n], [10, 1n]]));
});
