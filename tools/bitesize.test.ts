// Unit tests for tools/bitesize.ts: block request sizes as log2 histograms by the issuing process's name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

test("bitesize: each request's bytes count in its issuer's histogram, by the record's comm rather than the current task's", async () => {
  const sim = await simulate("tools/bitesize.ts", { tracepointFormats: tracepointFormats("block/block_rq_issue") });
  const issue = (comm: string, bytes: number) => sim.tracepoint("block", "block_rq_issue", { dev: 254 << 20, sector: 2048, nr_sector: bytes / 512, bytes, rwbs: "W", comm }, { comm: "kworker/0:1H" });
  issue("dd", 65536); // slot 17: [64K, 128K)
  issue("dd", 65536);
  issue("dd", 4096); // slot 13: [4K, 8K)
  issue("jbd2/vda-8", 0); // a flush carries no data: slot 0, bpftrace's [0]
  const counts = new Map(sim.map("bytes").entries().map(([k, n]) => {
    const { key, slot } = k as { key: string; slot: number };
    return [`${key} ${slot}`, n];
  }));
  assert.deepEqual(counts, new Map([["dd 17", 2n], ["dd 13", 1n], ["jbd2/vda-8 0", 1n]]));
});
