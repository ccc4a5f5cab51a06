// Differential test of the two backends: generated TypeScript probe files (random-probes.ts, a fixed
// seed), each compiled by our own backend and through LLVM, every handler run in the VM on the same
// pt_regs images; r0, printk lines and faults must agree, and so must the bytes of every map a
// handler uses after its runs (the handlers of a file share its maps, and run in the same order on
// both objects, so a handler that leaves different bytes is the one that wrote them).
// A disagreement prints the handler's source and both disassemblies. Handlers are batched many to a
// file so that the frontend and LLVM run once per file. TSBPF_DIFF_FILES=N runs N files of them (default 2, to keep
// `npm test` under its time budget; 6 and more before a release).

import { test } from "node:test";
import assert from "node:assert/strict";
import { compileBoth, disassemblies, noLlvm, runAll, words } from "./support.js";
import { MAPS, randomProbeFile } from "./random-probes.js";
import { Prng } from "../support/prng.js";

const FILES = Number(process.env.TSBPF_DIFF_FILES ?? 2);
const PER_FILE = 100;
const FIRST_SEED = 0x7eb0f;
/** pt_regs offsets (x86-64) of di, si, dx, cx, r8, r9. */
const ARG_SLOTS = [14, 13, 12, 11, 9, 8];
const INTERESTING = [0n, 1n, 2n, 7n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 63n, -1n, -2n, -7n];

function inputs(seed: number): Uint8Array[] {
  const rng = new Prng(seed);
  const value = (): bigint => (rng.chance(0.5) ? rng.pick(INTERESTING) : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
  return Array.from({ length: 3 }, () => {
    const regs = new Array<bigint>(21).fill(0n);
    for (const slot of ARG_SLOTS) regs[slot] = value();
    return words(regs);
  });
}

test(`${FILES * PER_FILE} generated probe programs give the same results through both backends`, { skip: noLlvm }, async (t) => {
  let programs = 0;
  let ownInsns = 0;
  let llvmInsns = 0;
  let withMaps = 0;
  for (let f = 0; f < FILES; f++) {
    const seed = FIRST_SEED + f;
    const text = randomProbeFile(seed, PER_FILE);
    const fileName = `random-${seed}.ts`;
    const both = compileBoth({ fileName, text }, { arch: "x86_64" });
    assert.deepEqual(both.own.diagnostics, [], `${fileName} compiles with our own backend`);
    assert.deepEqual(both.llvm.diagnostics, []);
    const contexts = new Map(both.own.programs.map((p, i) => [p.name, inputs(seed * 1000 + i)]));
    const sources = new Map(both.own.programs.map((p) => {
      const start = text.indexOf(`export const ${p.name} =`);
      return [p.name, text.slice(start, text.indexOf("\n});", start) + 4)];
    }));
    // After each handler, the maps it uses: no other map can have changed.
    const used = new Map([...sources].map(([name, source]) => [name, Object.keys(MAPS).filter((m) => new RegExp(`\\b${m}\\.`).test(source))]));
    const maps = (program: string) => used.get(program)!;
    const own = await runAll(both.own.object, contexts, { verify: false, maps });
    const llvm = await runAll(both.llvm.object, contexts, { verify: false, maps });
    for (const p of both.own.programs) {
      const l = both.llvm.programs.find((x) => x.name === p.name)!;
      const source = sources.get(p.name)!;
      ownInsns += p.insns.length;
      llvmInsns += l.insns.length;
      if (JSON.stringify(llvm.get(p.name), big) !== JSON.stringify(own.get(p.name), big)) {
        assert.fail(
          `${p.name} of ${fileName} differs\nown:  ${JSON.stringify(own.get(p.name), big)}\nllvm: ${JSON.stringify(llvm.get(p.name), big)}\n${source}\n${disassemblies(both, p.name)}`,
        );
      }
      const ownMaps = own.maps!.get(p.name)!;
      const llvmMaps = llvm.maps!.get(p.name)!;
      if (llvmMaps !== ownMaps) {
        const ownLines = ownMaps.split("\n");
        const differing = llvmMaps.split("\n").flatMap((line, k) => (line === ownLines[k] ? [] : [`own:  ${ownLines[k]}`, `llvm: ${line}`]));
        assert.fail(`maps differ after ${p.name} of ${fileName}\n${differing.join("\n")}\n${source}\n${disassemblies(both, p.name)}`);
      }
      if (used.get(p.name)!.length) withMaps++;
      programs++;
    }
  }
  assert.equal(programs, FILES * PER_FILE);
  t.diagnostic(`instructions over ${programs} programs: own backend ${ownInsns}, LLVM ${llvmInsns}; ${withMaps} programs use maps`);
});

function big(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}
