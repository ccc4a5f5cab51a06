// sim.events() gives a perf event array's records in the order the probes wrote them, across CPUs, as a ring buffer's
// are: a test compares them with recorded events in production order. Each CPU's buffer still fills and drops alone.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";

const PROBE = {
  fileName: "order.ts",
  text: `import { uprobe, RingBuf, PerfEventArray, type u32 } from "tsbpf";
export const license = "GPL";
interface Seen { n: u32 }
export const rb = new RingBuf<Seen>(4096);
export const pe = new PerfEventArray<Seen>();
export const main = uprobe("/bin/app", "main", (n: u32) => {
  rb.output({ n });
  pe.output({ n });
  return 0;
});`,
};

test("a perf event array's records come out in the order they were written, across CPUs, as a ring buffer's do", async () => {
  const sim = await simulate(PROBE, { arch: "x86_64", cpus: 2 });
  sim.uprobe("main", { args: [1], cpu: 1 });
  sim.uprobe("main", { args: [2], cpu: 0 });
  sim.uprobe("main", { args: [3], cpu: 1 });
  assert.deepEqual(sim.events("rb"), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.deepEqual(sim.events("pe"), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  sim.uprobe("main", { args: [4], cpu: 0 });
  sim.uprobe("main", { args: [5], cpu: 1 });
  assert.deepEqual(sim.events("pe"), [{ n: 4 }, { n: 5 }]);
});
