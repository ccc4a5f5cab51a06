// Unit tests for tools/hardirqs.ts: hardware interrupt handler run times by the handler's name, timed on each CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const formats = tracepointFormats("irq/irq_handler_entry", "irq/irq_handler_exit");

test("hardirqs: each CPU times its own handler, named from the entry's __data_loc string; shared lines count per handler", async () => {
  const sim = await simulate("tools/hardirqs.ts", { tracepointFormats: formats, cpus: 2 });
  const entry = (irq: number, name: string, cpu: number) => sim.tracepoint("irq", "irq_handler_entry", { irq, name }, { cpu });
  const exit = (irq: number, cpu: number) => sim.tracepoint("irq", "irq_handler_exit", { irq, ret: 1 }, { cpu });
  entry(25, "virtio1-req.0", 0);
  sim.kernel.advance(3_000);
  entry(27, "virtio3-rx", 1); // on CPU 1 while CPU 0's runs
  sim.kernel.advance(2_000);
  exit(25, 0); // 5 us: [4, 8), slot 3
  sim.kernel.advance(10_000);
  exit(27, 1); // 12 us: [8, 16), slot 4
  entry(11, "ahci[0000:00:1f.2]", 0); // two handlers of one shared line, one after the other
  sim.kernel.advance(1_000);
  exit(11, 0);
  entry(11, "uhci_hcd:usb1", 0);
  sim.kernel.advance(2_500);
  exit(11, 0);
  const hist = new Map(sim.map("usecs").entries().map(([k, n]) => {
    const { key, slot } = k as { key: string; slot: number };
    return [`${key} ${slot}`, n];
  }));
  assert.deepEqual(hist, new Map([["virtio1-req.0 3", 1n], ["virtio3-rx 4", 1n], ["ahci[0000:00:1f.2] 1", 1n], ["uhci_hcd:usb1 2", 1n]]));
  assert.deepEqual(new Map(sim.map("total").entries()), new Map([["virtio1-req.0", 5n], ["virtio3-rx", 12n], ["ahci[0000:00:1f.2]", 1n], ["uhci_hcd:usb1", 2n]]));
  assert.deepEqual(new Map(sim.map("runs").entries()), new Map([["virtio1-req.0", 1n], ["virtio3-rx", 1n], ["ahci[0000:00:1f.2]", 1n], ["uhci_hcd:usb1", 1n]]));
});

test("hardirqs: an exit without its entry counts nothing; a name longer than the key keeps its first 31 bytes", async () => {
  const sim = await simulate("tools/hardirqs.ts", { tracepointFormats: formats, cpus: 1 });
  sim.tracepoint("irq", "irq_handler_exit", { irq: 3, ret: 1 });
  sim.tracepoint("irq", "irq_handler_entry", { irq: 3, name: "a-very-long-interrupt-handler-name-indeed" });
  sim.kernel.advance(40_000);
  sim.tracepoint("irq", "irq_handler_exit", { irq: 3, ret: 1 });
  sim.tracepoint("irq", "irq_handler_exit", { irq: 3, ret: 1 });
  assert.deepEqual(new Map(sim.map("runs").entries()), new Map([["a-very-long-interrupt-handler-n", 1n]]));
  assert.deepEqual(new Map(sim.map("total").entries()), new Map([["a-very-long-interrupt-handler-n", 40n]]));
});
