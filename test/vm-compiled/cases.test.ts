// Every table program on the interpreter and the compiled tier: identical r0, instruction counts,
// buffer and map bytes, and errors (class, pc, message); expected values checked where given.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Insn } from "../../compiler/isa/insn.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { MapRegistry } from "../../runtime/vm/maps/index.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { Memory, VmFault } from "../../runtime/vm/memory.js";
import type { HelperFn } from "../../runtime/vm/env.js";
import { compileStats } from "../../runtime/vm/compiled/index.js";
import { compareTiers, type EnvFactory, type TestEnv } from "./diff.js";
import { operatorCases, programCases, TEST_HELPER, type Case } from "./cases.js";

const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);

function factory(c: Case): EnvFactory {
  return (): TestEnv => {
    if (c.env === "plain") return { env: { memory: new Memory(), helpers: new Map() } };
    if (c.env === "buffer" || c.env === "readonly") {
      const memory = new Memory();
      const bytes = pattern(c.env === "buffer" && c.name.includes("#") ? 4096 : 256);
      const region = memory.map("ctx", bytes, { writable: c.env === "buffer" });
      return { env: { memory, helpers: new Map() }, observe: () => [bytes], options: { r1: region.address(), r2: BigInt(bytes.length) } };
    }
    const kernel = new SimKernel();
    const maps = new MapRegistry(kernel);
    const value = maps.array({ valueSize: 8, maxEntries: 1 });
    const progs = maps.progArray({ maxEntries: 4 });
    const bytes = pattern(256);
    const region = kernel.memory.map("ctx", bytes, { name: "ctx" });
    const helpers = new Map<number, HelperFn>([
      [TEST_HELPER.retNumber, (ctx) => ctx.argU32(2) * 1000 - 22],
      [TEST_HELPER.retBig, (ctx) => ctx.arg(5) * 3n + 0xffffffffffffffffn],
      [TEST_HELPER.unmapBuffer, (ctx) => (ctx.memory.unmap(region), 0)],
      [TEST_HELPER.fault, (ctx) => {
        throw new VmFault("helper fault", ctx.arg(1), ctx.pc);
      }],
    ]);
    const env = createVmEnv({ kernel, maps, helpers });
    return {
      env,
      observe: () => [bytes, value.data],
      options: { r1: region.address(), r2: 256n },
      setup: (load) => c.targets?.forEach((t, k) => progs.set(k, load(t.insns as Insn[], { ...c.load, name: t.name }))),
    };
  };
}

function check(c: Case): void {
  const out = compareTiers(c.insns, factory(c), c.options, `(${c.name})`, c.load);
  if (c.r0 !== undefined) assert.equal(out.r0, c.r0, `${c.name}: r0 (${out.error?.message ?? ""})`);
  if (c.error !== undefined) assert.match(out.error?.message ?? "(no error)", c.error, c.name);
  else assert.equal(out.error, undefined, `${c.name}: unexpected error`);
}

describe("operator tables on both tiers", () => {
  const cases = operatorCases();
  test(`${cases.length} programs over every ALU and jump opcode`, () => {
    const before = compileStats.fallbacks;
    for (const c of cases) check(c);
    assert.equal(compileStats.fallbacks, before);
  });
});

describe("programs on both tiers", () => {
  for (const c of programCases) test(c.name, () => check(c));
});
