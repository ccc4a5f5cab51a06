// Unit tests for examples/python-usdt.ts: CPython's import and GC probes, with their arguments where Debian's
// python3.11 keeps them (`readelf -n /usr/bin/python3.11`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const IMPORT_DONE = "8@%rax -4@%edx";
const GC_START = "-4@112(%rsp)";
const GC_DONE = "-8@%r12";

test("python-usdt: an import is an event with the module's name and whether it was found", async () => {
  const sim = await simulate("examples/python-usdt.ts");
  sim.usdt("python:import__find__load__done", { args: [sim.kernel.userString("json.decoder"), 1], spec: IMPORT_DONE, pid: 7, tgid: 7 });
  // found is the low 32 bits of rdx, sign-extended: what the caller left above them does not matter.
  sim.usdt("python:import__find__load__done", { args: [sim.kernel.userString("no_such_module"), 0], spec: IMPORT_DONE, regs: { dx: 0xffff_ffff_0000_0000n }, pid: 7 });
  assert.deepEqual(sim.events("imports"), [
    { pid: 7, found: true, module: "json.decoder" },
    { pid: 7, found: false, module: "no_such_module" },
  ]);
});

test("python-usdt: collections counted by generation (read from the stack), pauses and freed objects summed", async () => {
  const sim = await simulate("examples/python-usdt.ts");
  for (const [generation, pauseNs, freed] of [[0, 3_000, 10], [2, 900_000, 2500], [0, 5_000, 7]] as const) {
    sim.usdt("python:gc__start", { args: [generation], spec: GC_START, pid: 9 });
    sim.kernel.advance(pauseNs);
    sim.usdt("/usr/bin/python3:python:gc__done", { args: [freed], spec: GC_DONE, pid: 9 });
  }
  assert.deepEqual(sim.map("collections").toMap(), new Map([[0, 2n], [2, 1n]]));
  assert.equal(sim.map("collected").get(0), 2517n);
  assert.equal(sim.runs.length, 6);
});

test("python-usdt: a collection that started before the probe was attached is not timed", async () => {
  const sim = await simulate("examples/python-usdt.ts");
  sim.usdt("python:gc__done", { args: [-1], spec: GC_DONE });
  assert.equal(sim.map("collected").get(0), undefined);
});
