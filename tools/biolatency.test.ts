// Unit tests for tools/biolatency.ts: block requests timed from issue to completion, per disk.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const VDA = (254 << 20) | 0;
const SDB = (8 << 20) | 16;

test("biolatency: a request's issue-to-completion time counts in its disk's histogram; requests are told apart by disk and sector", async () => {
  const sim = await simulate("tools/biolatency.ts", { tracepointFormats: tracepointFormats("block/block_rq_issue", "block/block_rq_complete") });
  const issue = (dev: number, sector: number) => sim.tracepoint("block", "block_rq_issue", { dev, sector, nr_sector: 8, bytes: 4096, rwbs: "WS", comm: "dd" });
  const complete = (dev: number, sector: number) => sim.tracepoint("block", "block_rq_complete", { dev, sector, nr_sector: 8, error: 0, rwbs: "WS" });
  issue(VDA, 2048);
  issue(SDB, 2048);
  sim.kernel.advance(1_500_000);
  complete(VDA, 2048); // 1500 us: slot 11, [1024, 2048)
  sim.kernel.advance(8_500_000);
  complete(SDB, 2048); // 10 ms: slot 14, [8192, 16384)
  complete(VDA, 4096); // issued before the probe was attached
  const counts = new Map([...sim.map("usecs").toMap()].map(([k, n]) => {
    const { key, slot } = k as { key: { major: number; minor: number }; slot: number };
    return [`${key.major},${key.minor} slot ${slot}`, n];
  }));
  assert.deepEqual(counts, new Map([["254,0 slot 11", 1n], ["8,16 slot 14", 1n]]));
  assert.equal(sim.map("issued").toMap().size, 0);
});
