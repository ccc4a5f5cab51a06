// Unit tests for tools/softirqs.ts: soft interrupt run times by vector, timed from entry to exit on each CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const formats = tracepointFormats("irq/softirq_entry", "irq/softirq_exit");

test("softirqs: each CPU times its own soft interrupt; histograms, totals and runs by the vector's name", async () => {
  const sim = await simulate("tools/softirqs.ts", { tracepointFormats: formats, cpus: 2 });
  const entry = (vec: number, cpu: number) => sim.tracepoint("irq", "softirq_entry", { vec }, { cpu });
  const exit = (vec: number, cpu: number) => sim.tracepoint("irq", "softirq_exit", { vec }, { cpu });
  entry(3, 0); // NET_RX on CPU 0
  sim.kernel.advance(5_000);
  entry(1, 1); // TIMER on CPU 1 while CPU 0's runs
  sim.kernel.advance(20_000);
  exit(3, 0); // 25 us: slot 5, [16, 32)
  sim.kernel.advance(3_000);
  exit(1, 1); // 23 us
  entry(9, 0);
  sim.kernel.advance(1_500);
  exit(9, 0); // 1 us (1.5 truncated): slot 1, [1]
  const hist = new Map(sim.map("usecs").entries().map(([k, n]) => {
    const { key, slot } = k as { key: string; slot: number };
    return [`${key} ${slot}`, n];
  }));
  assert.deepEqual(hist, new Map([["net_rx 5", 1n], ["timer 5", 1n], ["rcu 1", 1n]]));
  assert.deepEqual(new Map(sim.map("total").entries()), new Map([["net_rx", 25n], ["timer", 23n], ["rcu", 1n]]));
  assert.deepEqual(new Map(sim.map("runs").entries()), new Map([["net_rx", 1n], ["timer", 1n], ["rcu", 1n]]));
});

test("softirqs: an exit whose entry came before the probe was attached, or an exit seen twice, counts nothing", async () => {
  const sim = await simulate("tools/softirqs.ts", { tracepointFormats: formats, cpus: 2 });
  sim.tracepoint("irq", "softirq_exit", { vec: 7 }, { cpu: 1 });
  sim.tracepoint("irq", "softirq_entry", { vec: 7 }, { cpu: 1 });
  sim.kernel.advance(2_000);
  sim.tracepoint("irq", "softirq_exit", { vec: 7 }, { cpu: 1 });
  sim.tracepoint("irq", "softirq_exit", { vec: 7 }, { cpu: 1 });
  assert.deepEqual(new Map(sim.map("runs").entries()), new Map([["sched", 1n]]));
  assert.deepEqual(new Map(sim.map("total").entries()), new Map([["sched", 2n]]));
});
