// Unit tests for tools/writeback.ts: each writeback pass with its device, pages, reason and time, from
// writeback_start to writeback_written of the same device.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const VDA = (254 << 20) | 0;
const SDB = (8 << 20) | 16;

test("writeback: a pass prints its device, pages, reason and milliseconds; passes of two devices are timed apart", async () => {
  const sim = await simulate("tools/writeback.ts", {
    tracepointFormats: tracepointFormats("writeback/writeback_start", "writeback/writeback_written"),
    realtime: Date.UTC(2026, 10, 24, 21, 30, 5),
  });
  const record = (name: string, sb_dev: number, nr_pages: bigint, reason: number) =>
    ({ name, nr_pages, sb_dev, sync_mode: 0, for_kupdate: 0, range_cyclic: 1, for_background: 0, reason, cgroup_ino: 1n });
  sim.begin();
  sim.tracepoint("writeback", "writeback_start", record("254:0", VDA, 1024n, 2));
  sim.kernel.advance(400_000);
  sim.tracepoint("writeback", "writeback_start", record("8:16", SDB, 9223372036854775807n, 0));
  sim.kernel.advance(1_234_567);
  sim.tracepoint("writeback", "writeback_written", record("254:0", VDA, 0n, 2)); // 1.634 ms
  sim.kernel.advance(1_000_000_000);
  sim.tracepoint("writeback", "writeback_written", record("8:16", SDB, 9223372036854767565n, 0)); // 1001.234 ms
  sim.tracepoint("writeback", "writeback_written", record("254:0", VDA, 12n, 3)); // started before the probe was attached
  assert.equal(sim.output(), [
    "Tracing writeback... Hit Ctrl-C to end.",
    "TIME      DEVICE   PAGES    REASON           ms",
    "21:30:05  254:0    0        sync             1.634",
    "21:30:06  8:16     9223372036854767565 background       1001.234",
    "21:30:06  254:0    12       periodic         0.000",
    "",
  ].join("\n"));
  assert.equal(sim.map("started").toMap().size, 0);
});
