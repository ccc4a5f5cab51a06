// Unit tests for tools/compactsnoop.ts: compaction runs timed per thread from begin to end, with the zone, the mode
// (a bool field) and the result by the name of its enum compact_result value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("compactsnoop: each run prints its task, zone, mode, milliseconds and result by name; threads are timed apart", async () => {
  const sim = await simulate("tools/compactsnoop.ts", {
    tracepointFormats: tracepointFormats("compaction/mm_compaction_begin", "compaction/mm_compaction_end"),
    realtime: Date.UTC(2026, 10, 24, 22, 11, 24),
  });
  const zone = (zone_start: bigint, zone_end: bigint, sync: boolean) => ({ zone_start, migrate_pfn: zone_start, free_pfn: zone_end, zone_end, sync });
  const writer = { pid: 26802, comm: "bash" };
  const kcompactd = { pid: 35, comm: "kcompactd0" };
  sim.begin();
  sim.tracepoint("compaction", "mm_compaction_begin", zone(0x1000n, 0x100000n, true), writer);
  sim.kernel.advance(1_000_000);
  sim.tracepoint("compaction", "mm_compaction_begin", zone(0x100000n, 0x220000n, false), kcompactd);
  sim.kernel.advance(2_709_000);
  sim.tracepoint("compaction", "mm_compaction_end", { ...zone(0x1000n, 0x100000n, true), status: 5 }, writer); // 3.709 ms
  sim.kernel.advance(8_000);
  sim.tracepoint("compaction", "mm_compaction_end", { ...zone(0x100000n, 0x220000n, false), status: 7 }, kcompactd); // 2.717 ms
  sim.tracepoint("compaction", "mm_compaction_end", { ...zone(0x1n, 0x1000n, true), status: 1 }, { pid: 9, comm: "old" }); // began before the attach
  assert.equal(sim.output(), [
    "TIME     COMM             PID     ZONE (PFNS)               MODE   LAT(ms) STATUS",
    "22:11:24 bash             26802   0x1000     -0x100000    sync     3.709 COMPACT_COMPLETE",
    "22:11:24 kcompactd0       35      0x100000   -0x220000    async    2.717 COMPACT_CONTENDED",
    "",
  ].join("\n"));
  assert.equal(sim.map("started").toMap().size, 0);
});
