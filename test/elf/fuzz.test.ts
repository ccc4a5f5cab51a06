// Mutates and truncates valid objects 2,000 times with a fixed seed: every result must either
// parse or throw ElfError, never another exception (RangeError, TypeError) and never hang.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ElfError, ElfWriter, R_BPF, SHF, SHT, readBpfObject, readElf } from "../../compiler/elf/index.js";
import { encode, exit, lddw, mov64Imm, callLocal } from "../../compiler/isa/index.js";
import { CLANG, compileFixture, readBytes, removeDir, tempDir } from "./oracle.js";

const ROUNDS = 2000;

/** mulberry32: a small deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function written(): Uint8Array {
  const w = new ElfWriter();
  w.addSection(".text", { flags: SHF.ALLOC | SHF.EXECINSTR, data: encode([mov64Imm(0, 1), exit()]), align: 8 });
  w.addSection("socket", { flags: SHF.ALLOC | SHF.EXECINSTR, data: encode([...lddw(1, 0n), callLocal(-1), exit()]), align: 8 });
  w.addSection(".data", { flags: SHF.ALLOC | SHF.WRITE, data: new Uint8Array(8), align: 8 });
  w.addSection(".bss", { type: SHT.NOBITS, flags: SHF.ALLOC | SHF.WRITE, size: 16, align: 8 });
  w.addSection("license", { flags: SHF.ALLOC, data: new TextEncoder().encode("GPL\0") });
  w.addSymbol({ name: "f", section: ".text", size: 16, type: "FUNC" });
  w.addSymbol({ name: "p", section: "socket", size: 32, type: "FUNC", bind: "GLOBAL" });
  w.addSymbol({ name: "d", section: ".data", size: 8, type: "OBJECT", bind: "GLOBAL" });
  w.addRelocation("socket", { offset: 0, symbol: "d", type: R_BPF.R_64_64 });
  w.addRelocation("socket", { offset: 16, symbol: w.sectionSymbol(".text"), type: R_BPF.R_64_32 });
  w.addRelocation(".data", { offset: 0, symbol: "p", type: R_BPF.R_64_ABS64 });
  return w.toBytes();
}

/** Byte ranges worth hitting harder than the rest: headers, symbol and relocation tables. */
function hotRanges(bytes: Uint8Array): [number, number][] {
  const elf = readElf(bytes);
  const ranges: [number, number][] = [[0, 64], [elf.header.shoff, elf.header.shoff + elf.header.shnum * 64]];
  for (const s of elf.sections) if (s.type === SHT.SYMTAB || s.type === SHT.REL || s.type === SHT.STRTAB) ranges.push([s.offset, s.offset + s.size]);
  return ranges.filter(([a, b]) => b > a);
}

const INTERESTING = [0n, 1n, 7n, 8n, 0x7fn, 0xffn, 0xff00n, 0xfff1n, 0xffffn, 0x7fffffffn, 0xffffffffn, 1n << 32n, 1n << 53n, (1n << 63n) - 1n, (1n << 64n) - 1n];

function mutate(base: Uint8Array, hot: [number, number][], rand: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  const kind = pick(6);
  if (kind === 0) return base.slice(0, pick(base.length)); // truncation
  const out = base.slice();
  const where = (): number => {
    if (rand() < 0.7) {
      const [a, b] = hot[pick(hot.length)]!;
      return a + pick(b - a);
    }
    return pick(out.length);
  };
  const v = new DataView(out.buffer);
  const flips = 1 + pick(kind === 1 ? 16 : 3);
  for (let i = 0; i < flips; i++) {
    const at = where();
    switch (kind) {
      case 1:
      case 2:
        out[at] = pick(256);
        break;
      case 3: {
        const x = INTERESTING[pick(INTERESTING.length)]!;
        const width = [1, 2, 4, 8][pick(4)]!;
        const base = at - (at % width);
        if (base + width > out.length) break;
        if (width === 8) v.setBigUint64(base, x & ((1n << 64n) - 1n), true);
        else if (width === 4) v.setUint32(base, Number(x & 0xffffffffn), true);
        else if (width === 2) v.setUint16(base, Number(x & 0xffffn), true);
        else out[base] = Number(x & 0xffn);
        break;
      }
      case 4:
        out[at] ^= 1 << pick(8);
        break;
      default:
        out.copyWithin(at, where(), where() + 1 + pick(24));
    }
  }
  return kind === 5 && rand() < 0.5 ? out.slice(0, where()) : out;
}

describe("fuzzing the reader", () => {
  it(`${ROUNDS} mutations each parse or throw ElfError`, () => {
    const bases: Uint8Array[] = [written()];
    if (CLANG) {
      const dir = tempDir();
      try {
        bases.push(readBytes(compileFixture("subprog", dir)), readBytes(compileFixture("globals", dir)), readBytes(compileFixture("maps", dir, "bpfeb")));
      } finally {
        removeDir(dir);
      }
    }
    for (const b of bases) readBpfObject(b, { check: true });
    const hot = bases.map(hotRanges);
    const rand = prng(0x7eb9f);
    let parsed = 0;
    let rejected = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const which = round % bases.length;
      const input = mutate(bases[which]!, hot[which]!, rand);
      try {
        readBpfObject(input, { check: round % 2 === 0 });
        parsed++;
      } catch (e) {
        if (!(e instanceof ElfError)) {
          assert.fail(`round ${round} (base ${which}, ${input.length} bytes): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
        }
        assert.ok(e.message.length > 0);
        rejected++;
      }
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert.ok(parsed > ROUNDS / 20, `parsed ${parsed}`);
    assert.ok(rejected > ROUNDS / 20, `rejected ${rejected}`);
  });
});
