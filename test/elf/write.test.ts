// Writes BPF objects with ElfWriter and checks them with llvm-readelf-19, llvm-objdump-19,
// readBpfObject and, where root and bpffs allow, by loading them with bpftool.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ElfError,
  ElfWriter,
  R_BPF,
  SHF,
  SHT,
  STB,
  STT,
  readBpfObject,
  readElf,
  swapInsnBytes,
  type BpfObject,
  type ElfFile,
  type SymbolBind,
  type SymbolType,
} from "../../compiler/elf/index.js";
import { AluOp, Size, alu64Reg, callLocal, encode, exit, ldx, lddw, mov64Imm, mov64Reg, stx, type Insn } from "../../compiler/isa/index.js";
import { BPFTOOL, CLANG, OBJDUMP, READELF, compileFixture, mustRun, readBytes, readelf, removeDir, run, tempDir, withBpffs } from "./oracle.js";

const oracles = !READELF || !OBJDUMP ? "llvm-readelf-19 or llvm-objdump-19 is missing" : false;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `socket: r0 = 0; exit` with a GPL license: the smallest loadable object. */
function minimal(littleEndian = true): Uint8Array {
  const w = new ElfWriter({ littleEndian });
  const code = encode([mov64Imm(0, 0), exit()]);
  w.addSection("socket", { flags: SHF.ALLOC | SHF.EXECINSTR, data: littleEndian ? code : swapInsnBytes(code), align: 8 });
  w.addSection("license", { flags: SHF.ALLOC | SHF.WRITE, data: text("GPL\0"), align: 1 });
  w.addSymbol({ name: "zero", section: "socket", size: 16, type: "FUNC", bind: "GLOBAL" });
  w.addSymbol({ name: "LICENSE", section: "license", size: 4, type: "OBJECT", bind: "GLOBAL" });
  return w.toBytes();
}

// A socket program reading a .rodata constant, calling a .text subprogram and storing to .bss.
const SUB: Insn[] = [mov64Reg(0, 1), alu64Reg(AluOp.ADD, 0, 1), exit()];
const PROG: Insn[] = [
  ...lddw(1, 0n), // r1 = &k
  ldx(Size.W, 1, 1, 0),
  callLocal(-1), // r0 = twice(r1)
  ...lddw(2, 0n), // r2 = &counter
  stx(Size.DW, 2, 0, 0),
  mov64Imm(0, 0),
  exit(),
];

function relocated(littleEndian = true): Uint8Array {
  const w = new ElfWriter({ littleEndian });
  const enc = (insns: Insn[]): Uint8Array => (littleEndian ? encode(insns) : swapInsnBytes(encode(insns)));
  const exec = SHF.ALLOC | SHF.EXECINSTR;
  w.addSection(".text", { flags: exec, data: enc(SUB), align: 8 });
  w.addSection("socket", { flags: exec, data: enc(PROG), align: 8 });
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, 5, littleEndian);
  w.addSection(".rodata", { flags: SHF.ALLOC, data: k, align: 4 });
  w.addSection(".bss", { type: SHT.NOBITS, flags: SHF.ALLOC | SHF.WRITE, size: 8, align: 8 });
  w.addSection("license", { flags: SHF.ALLOC | SHF.WRITE, data: text("GPL\0") });
  // Globals first on purpose: the writer must move locals ahead of them.
  w.addSymbol({ name: "prog", section: "socket", size: PROG.length * 8, type: "FUNC", bind: "GLOBAL" });
  w.addSymbol({ name: "k", section: ".rodata", size: 4, type: "OBJECT", bind: "GLOBAL" });
  w.addSymbol({ name: "twice", section: ".text", size: SUB.length * 8, type: "FUNC", bind: "LOCAL" });
  w.addSymbol({ name: "counter", section: ".bss", size: 8, type: "OBJECT", bind: "GLOBAL" });
  w.addSymbol({ name: "LICENSE", section: "license", size: 4, type: "OBJECT", bind: "GLOBAL" });
  w.addSymbol({ name: "fixture.c", section: 0xfff1, type: "FILE", bind: "LOCAL" });
  w.addRelocation("socket", { offset: 0, symbol: "k", type: R_BPF.R_64_64 });
  w.addRelocation("socket", { offset: 3 * 8, symbol: w.sectionSymbol(".text"), type: R_BPF.R_64_32 });
  w.addRelocation("socket", { offset: 4 * 8, symbol: "counter", type: R_BPF.R_64_64 });
  return w.toBytes();
}

/** Re-emits a parsed object through ElfWriter: same sections, symbols and relocations. */
function rewrite(elf: ElfFile): Uint8Array {
  const w = new ElfWriter({ littleEndian: elf.header.littleEndian });
  const generated = new Set([elf.symtab?.index, elf.symtab?.link, elf.header.shstrndx]);
  const index = new Map<number, number>();
  for (const s of elf.sections) {
    if (s.index === 0 || generated.has(s.index) || s.type === SHT.REL || s.type === SHT.RELA || s.type === SHT.LLVM_ADDRSIG) continue;
    index.set(s.index, w.addSection(s.name, { type: s.type, flags: s.flags, data: s.data, size: s.size, align: s.addralign, entsize: s.entsize }));
  }
  const types: Record<number, SymbolType> = { [STT.NOTYPE]: "NOTYPE", [STT.OBJECT]: "OBJECT", [STT.FUNC]: "FUNC", [STT.SECTION]: "SECTION", [STT.FILE]: "FILE" };
  const binds: Record<number, SymbolBind> = { [STB.LOCAL]: "LOCAL", [STB.GLOBAL]: "GLOBAL", [STB.WEAK]: "WEAK" };
  const handles = new Map<number, number>();
  for (const sym of elf.symbols.slice(1)) {
    const section = sym.section ? index.get(sym.section.index) : sym.shndx;
    if (section === undefined) continue;
    handles.set(sym.index, w.addSymbol({ name: sym.name, section, value: sym.value, size: sym.size, type: types[sym.type]!, bind: binds[sym.bind]!, visibility: sym.visibility }));
  }
  for (const t of elf.relocationTables) {
    const target = index.get(t.target.index);
    if (target === undefined) continue;
    for (const r of t.relocations) w.addRelocation(target, { offset: r.offset, symbol: handles.get(r.symbolIndex)!, type: r.type });
  }
  return w.toBytes();
}

const summary = (o: BpfObject) => ({
  license: o.license,
  version: o.version,
  programs: [...o.programs, ...o.subprograms].map((p) => ({
    name: p.name,
    section: p.section,
    offset: p.offset,
    global: p.global,
    insns: p.insns,
    relocations: p.relocations.map(({ symbolIndex: _i, symbolSectionIndex: _s, callee, ...r }) => ({ ...r, callee: callee && { ...callee, sectionIndex: 0 } })),
  })),
  // Section indices differ after re-emission (the writer drops .llvm_addrsig and moves tables).
  data: o.dataSections.map(({ index: _i, relocations, ...d }) => ({ ...d, relocations: relocations.map(({ symbolSectionIndex: _s, ...r }) => r) })),
  maps: o.mapSections.map(({ index: _i, relocations, ...m }) => ({ ...m, relocations: relocations.map(({ symbolSectionIndex: _s, ...r }) => r) })),
  btf: o.btf,
  btfExt: o.btfExt,
});

describe("ElfWriter", () => {
  let dir = "";
  before(() => (dir = tempDir()));
  after(() => removeDir(dir));
  const save = (name: string, bytes: Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it("writes a minimal socket filter llvm-readelf and llvm-objdump accept", { skip: oracles }, () => {
    const path = save("minimal.o", minimal());
    const ref = readelf(path);
    const names = ref.sections.map((s) => s.Name.Name);
    assert.deepEqual(names, ["", "socket", "license", ".symtab", ".strtab", ".shstrtab"]);
    const socket = ref.sections[1]!;
    assert.deepEqual([socket.Type.Value, socket.Flags.Value, socket.AddressAlignment, socket.Size, socket.Offset % 8], [SHT.PROGBITS, 6, 8, 16, 0]);
    const symtab = ref.sections[3]!;
    assert.deepEqual([symtab.Link, symtab.Info, symtab.EntrySize], [4, 1, 24]);
    assert.deepEqual(ref.symbols.map((s) => s.Name.Name), ["", "zero", "LICENSE"]);
    const dis = mustRun(OBJDUMP!, ["-d", path]);
    assert.match(dis, /<zero>:\n\s+0:\tb7 00 00 00 00 00 00 00\tr0 = 0x0\n\s+1:\t95 00 00 00 00 00 00 00\texit/);
    const header = mustRun(READELF!, ["-h", path]);
    assert.match(header, /Type:\s+REL/);
    assert.match(header, /Machine:\s+EM_BPF/);
    assert.match(header, /little endian/);
  });

  it("orders locals first, sets sh_info and emits .rel sections llvm-readelf resolves", { skip: oracles }, () => {
    const path = save("relocated.o", relocated());
    const ref = readelf(path);
    const symtab = ref.sections.find((s) => s.Name.Name === ".symtab")!;
    const binds = ref.symbols.map((s) => s.Binding.Value);
    assert.equal(symtab.Info, binds.findIndex((b) => b !== STB.LOCAL));
    assert.ok(binds.slice(symtab.Info).every((b) => b !== STB.LOCAL));
    assert.deepEqual(
      ref.symbols.map((s) => [s.Name.Name, s.Binding.Value, s.Type.Value]),
      [["", 0, 0], ["twice", 0, STT.FUNC], ["fixture.c", 0, STT.FILE], [".text", 0, STT.SECTION], ["prog", 1, STT.FUNC], ["k", 1, STT.OBJECT], ["counter", 1, STT.OBJECT], ["LICENSE", 1, STT.OBJECT]],
    );
    const rel = ref.sections.find((s) => s.Name.Name === ".relsocket")!;
    const socket = ref.sections.find((s) => s.Name.Name === "socket")!;
    assert.deepEqual([rel.Type.Value, rel.Link, rel.Info, rel.EntrySize, rel.AddressAlignment], [SHT.REL, symtab.Index, socket.Index, 16, 8]);
    assert.deepEqual(
      ref.relocations.flatMap((t) => t.Relocs.map(({ Relocation: r }) => [r.Offset, r.Type.Name, r.Symbol.Name])),
      [[0, "R_BPF_64_64", "k"], [24, "R_BPF_64_32", ".text"], [32, "R_BPF_64_64", "counter"]],
    );
    const bss = ref.sections.find((s) => s.Name.Name === ".bss")!;
    assert.deepEqual([bss.Type.Value, bss.Size], [SHT.NOBITS, 8]);
    const dis = mustRun(OBJDUMP!, ["-dr", path]);
    assert.match(dis, /call -0x1\n\s+0000000000000018:\s+R_BPF_64_32\s+\.text/);
    assert.match(dis, /r1 = 0x0 ll\n\s+0000000000000000:\s+R_BPF_64_64\s+k/);
  });

  it("round-trips through readBpfObject", () => {
    const o = readBpfObject(relocated(), { check: true });
    assert.equal(o.license, "GPL");
    assert.deepEqual(o.programs.map((p) => [p.name, p.section, p.insns]), [["prog", "socket", PROG]]);
    assert.deepEqual(o.subprograms.map((p) => [p.name, p.insns]), [["twice", SUB]]);
    assert.deepEqual(
      o.programs[0]!.relocations.map((r) => [r.insn, r.kind, r.type, r.symbol, r.symbolSection, r.addend]),
      [[0, "lddw", R_BPF.R_64_64, "k", ".rodata", 0], [3, "call", R_BPF.R_64_32, ".text", ".text", -1], [4, "lddw", R_BPF.R_64_64, "counter", ".bss", 0]],
    );
    assert.deepEqual(o.programs[0]!.relocations[1]!.callee?.name, "twice");
    assert.deepEqual(o.dataSections.map((d) => [d.name, d.kind, d.size, d.symbols.map((s) => s.name)]), [[".rodata", "rodata", 4, ["k"]], [".bss", "bss", 8, ["counter"]]]);
    const m = readBpfObject(minimal());
    assert.deepEqual(m.programs.map((p) => [p.name, p.insns.length]), [["zero", 2]]);
  });

  it("writes big-endian objects", { skip: oracles }, () => {
    const path = save("relocated.eb.o", relocated(false));
    assert.match(mustRun(READELF!, ["-h", path]), /big endian/);
    assert.match(mustRun(OBJDUMP!, ["-d", path]), /r0 = r1\n.*r0 \+= r1\n.*exit/);
    const eb = readBpfObject(readBytes(path));
    const el = readBpfObject(relocated());
    assert.equal(eb.littleEndian, false);
    assert.deepEqual(summary(eb).programs, summary(el).programs);
  });

  it("re-emits clang objects with the same libbpf view", { skip: !CLANG ? "clang-19 is missing" : false }, () => {
    for (const name of ["maps", "globals", "subprog", "legacy"]) {
      const original = readBytes(compileFixture(name, dir));
      const copy = rewrite(readElf(original));
      save(`${name}.rewritten.o`, copy);
      assert.deepEqual(summary(readBpfObject(copy)), summary(readBpfObject(original)), name);
    }
  });

  it("rejects what it cannot encode", () => {
    const w = new ElfWriter();
    w.addSection("socket", { flags: SHF.EXECINSTR, data: encode([exit()]) });
    w.addSymbol({ name: "a", section: "socket", type: "FUNC", bind: "GLOBAL" });
    w.addSymbol({ name: "b", section: "socket" });
    w.addSymbol({ name: "b", section: "socket" });
    const fails = (fn: () => unknown, pattern: RegExp): void => assert.throws(fn, (e: unknown) => e instanceof ElfError && pattern.test(e.message));
    fails(() => w.addSection("socket"), /already exists/);
    fails(() => w.addSection(".symtab"), /generated/);
    fails(() => w.addSection("x", { align: 3 }), /power of two/);
    fails(() => w.addSymbol({ name: "c", section: "nope" }), /no section named nope/);
    fails(() => w.addSymbol({ name: "c", section: 9 }), /no section with index 9/);
    fails(() => w.addSymbol({ name: "s", section: "socket", type: "SECTION", bind: "GLOBAL" }), /section symbols are local/);
    fails(() => w.addRelocation("socket", { offset: 8, symbol: "a", type: R_BPF.R_64_32 }), /outside the section/);
    fails(() => w.addRelocation("socket", { offset: 0, symbol: "zzz", type: R_BPF.R_64_32 }), /no symbol named zzz/);
    fails(() => w.addRelocation("socket", { offset: 0, symbol: "b", type: R_BPF.R_64_32 }), /ambiguous/);
    fails(() => w.addRelocation("socket", { offset: 0, symbol: 99, type: R_BPF.R_64_32 }), /no symbol with handle 99/);
    fails(() => w.addSymbol({ name: "bad\0name" }) && w.toBytes(), /NUL/);
  });

  it("loads with bpftool", { skip: !BPFTOOL ? "bpftool is missing" : false }, (t) => {
    const reason = withBpffs((fs) => {
      const minimalPath = save("load-minimal.o", minimal());
      const r = run(BPFTOOL!, ["prog", "load", minimalPath, join(fs, "minimal")]);
      assert.equal(r.status, 0, r.stderr);
      const shown = JSON.parse(mustRun(BPFTOOL!, ["-j", "prog", "show", "pinned", join(fs, "minimal")])) as { type: string; name: string; gpl_compatible: boolean };
      assert.deepEqual([shown.type, shown.name, shown.gpl_compatible], ["socket_filter", "zero", true]);

      // Relocations resolved by libbpf: a .rodata map, a .bss map and a call into .text.
      const relocatedPath = save("load-relocated.o", relocated());
      const r2 = run(BPFTOOL!, ["prog", "load", relocatedPath, join(fs, "relocated")]);
      assert.equal(r2.status, 0, r2.stderr);

      // Clang objects re-emitted by the writer load exactly when the originals do.
      if (CLANG) {
        for (const name of ["maps", "globals", "subprog"]) {
          const original = compileFixture(name, dir);
          const copy = save(`load-${name}.o`, rewrite(readElf(readBytes(original))));
          const a = run(BPFTOOL!, ["prog", "loadall", original, join(fs, `${name}-original`)]);
          const b = run(BPFTOOL!, ["prog", "loadall", copy, join(fs, `${name}-copy`)]);
          assert.equal(b.status, a.status, `${name}: original ${a.status} ${a.stderr.slice(-400)} / copy ${b.status} ${b.stderr.slice(-400)}`);
          if (a.status === 0) assert.deepEqual(readdirSync(join(fs, `${name}-copy`)).sort(), readdirSync(join(fs, `${name}-original`)).sort());
        }
      }
    });
    if (reason) t.skip(reason);
  });
});
