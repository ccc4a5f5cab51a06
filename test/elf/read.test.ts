// Reads clang-19 compiled fixtures and compares sections, symbols, relocations and functions
// with llvm-readelf-19 and llvm-objdump-19; checks the libbpf view of each fixture.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ElfError, ElfWriter, R_BPF, SHF, SHT, STB, readBpfObject, readElf, type BpfObject } from "../../compiler/elf/index.js";
import { encode, exit, mov64Imm } from "../../compiler/isa/index.js";
import { CLANG, FIXTURES as FIXTURE_DIR, OBJDUMP, READELF, compileFixture, mustRun, objdumpFunctions, readBytes, readelf, removeDir, tempDir } from "./oracle.js";

const FIXTURES = ["maps", "globals", "subprog", "legacy"];
const skip = !CLANG || !READELF || !OBJDUMP ? "clang-19, llvm-readelf-19 or llvm-objdump-19 is missing" : false;

describe("reading clang-19 objects", { skip }, () => {
  let dir = "";
  const paths = new Map<string, string>();
  const objects = new Map<string, BpfObject>();
  const obj = (name: string): BpfObject => objects.get(name)!;

  before(() => {
    dir = tempDir();
    for (const name of FIXTURES) {
      const path = compileFixture(name, dir);
      paths.set(name, path);
      objects.set(name, readBpfObject(readBytes(path), { check: true }));
    }
  });
  after(() => removeDir(dir));

  it("agrees with llvm-readelf on sections, symbols and relocations", () => {
    for (const name of FIXTURES) {
      const path = paths.get(name)!;
      const elf = readElf(readBytes(path));
      const ref = readelf(path);
      assert.equal(elf.sections.length, ref.sections.length, name);
      for (const r of ref.sections) {
        const s = elf.sections[r.Index]!;
        assert.deepEqual(
          { name: s.name, type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, info: s.info, align: s.addralign, entsize: s.entsize },
          { name: r.Name.Name, type: r.Type.Value, flags: r.Flags.Value, offset: r.Offset, size: r.Size, link: r.Link, info: r.Info, align: r.AddressAlignment, entsize: r.EntrySize },
          `${name} section ${r.Index}`,
        );
      }
      assert.equal(elf.symbols.length, ref.symbols.length, name);
      ref.symbols.forEach((r, i) => {
        const s = elf.symbols[i]!;
        // readelf names section symbols after their section.
        const shown = r.Type.Value === 3 && s.name === "" ? s.section?.name : s.name;
        assert.deepEqual(
          { name: shown, value: s.value, size: s.size, bind: s.bind, type: s.type, vis: s.visibility, shndx: s.shndx },
          { name: r.Name.Name, value: r.Value, size: r.Size, bind: r.Binding.Value, type: r.Type.Value, vis: r.Other.Value & 3, shndx: r.Section.Value },
          `${name} symbol ${i}`,
        );
      });
      assert.equal(elf.relocationTables.length, ref.relocations.length, name);
      for (const table of ref.relocations) {
        const mine = elf.relocationTables.find((t) => t.section.index === table.SectionIndex);
        assert.ok(mine, `${name}: relocation section ${table.SectionIndex}`);
        assert.equal(mine.rela, false);
        assert.deepEqual(
          mine.relocations.map((r) => ({ offset: r.offset, type: r.type, symbol: r.symbolIndex })),
          table.Relocs.map(({ Relocation: r }) => ({ offset: r.Offset, type: r.Type.Value, symbol: r.Symbol.Value })),
          `${name} ${mine.section.name}`,
        );
      }
    }
  });

  it("splits executable sections into the functions llvm-objdump shows", () => {
    for (const name of FIXTURES) {
      const o = obj(name);
      const fns = objdumpFunctions(paths.get(name)!);
      const mine = [...o.programs, ...o.subprograms];
      assert.deepEqual(new Set(mine.map((p) => p.name)), new Set(fns.keys()), name);
      for (const p of mine) {
        const ref = fns.get(p.name)!;
        assert.deepEqual({ section: p.section, first: p.offset, slots: p.insns.length }, ref, `${name} ${p.name}`);
        // Slots are the section's bytes, unchanged.
        const section = o.elf.sections[p.sectionIndex]!;
        assert.deepEqual(encode(p.insns), section.data.subarray(p.offset * 8, (p.offset + p.insns.length) * 8));
      }
    }
  });

  it("maps: a kprobe referencing a map in .maps", () => {
    const o = obj("maps");
    assert.equal(o.license, "GPL");
    assert.equal(o.version, undefined);
    assert.deepEqual(o.programs.map((p) => [p.name, p.section, p.global]), [["count_open", "kprobe/do_sys_openat2", true], ["tail_prog", "kprobe/do_sys_openat2", true]]);
    assert.deepEqual(o.subprograms, []);
    assert.equal(o.mapSections.length, 1);
    const maps = o.mapSections[0]!;
    assert.equal(maps.name, ".maps");
    assert.equal(maps.kind, "btf");
    assert.deepEqual(maps.maps.map((m) => [m.name, m.bind]), [["counts", STB.GLOBAL], ["jumps", STB.GLOBAL]]);
    // The program array's slot 1 points at tail_prog through an ABS64 relocation in .rel.maps.
    const jumps = maps.maps.find((m) => m.name === "jumps")!;
    const tail = o.programs.find((p) => p.name === "tail_prog")!;
    assert.equal(maps.relocations.length, 1);
    const slot = maps.relocations[0]!;
    assert.deepEqual([slot.type, slot.symbol, slot.symbolSection, slot.symbolValue, slot.addend], [R_BPF.R_64_ABS64, "tail_prog", "kprobe/do_sys_openat2", tail.offset * 8, 0]);
    assert.ok(slot.offset > jumps.offset && slot.offset < jumps.offset + jumps.size);
    const relocs = o.programs[0]!.relocations;
    assert.ok(relocs.length >= 2);
    for (const r of relocs) {
      assert.equal(r.type, R_BPF.R_64_64);
      assert.equal(r.kind, "lddw");
      assert.equal(r.symbol, "counts");
      assert.equal(r.symbolSection, ".maps");
      assert.equal(o.programs[0]!.insns[r.insn]!.code, 0x18);
    }
    assert.ok(o.btf && o.btf.length > 24 && o.btf[0] === 0x9f && o.btf[1] === 0xeb, "BTF magic");
    assert.ok(o.btfExt && o.btfExt.length > 0);
  });

  it("globals: .rodata, .data, .data.extra and .bss with their symbols", () => {
    const o = obj("globals");
    assert.equal(o.license, "Dual BSD/GPL");
    const byName = new Map(o.dataSections.map((d) => [d.name, d]));
    assert.deepEqual([...byName.keys()].sort(), [".bss", ".data", ".data.extra", ".rodata"]);
    assert.equal(byName.get(".rodata")!.kind, "rodata");
    assert.equal(byName.get(".data.extra")!.kind, "data");
    const bss = byName.get(".bss")!;
    assert.equal(bss.kind, "bss");
    assert.deepEqual(bss.data, new Uint8Array(bss.size));
    const le = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, d.byteLength).getInt32(0, true);
    assert.equal(le(byName.get(".rodata")!.data), 42);
    assert.equal(le(byName.get(".data")!.data), 7);
    assert.equal(le(byName.get(".data.extra")!.data), 3);
    assert.deepEqual(byName.get(".rodata")!.symbols.map((s) => s.name), ["threshold"]);
    assert.deepEqual(bss.symbols.map((s) => [s.name, s.size]), [["total", 8]]);
    const targets = o.programs[0]!.relocations.map((r) => [r.symbol, r.symbolSection]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    assert.deepEqual(targets, [["CONFIG_HZ", undefined], ["extra", ".data.extra"], ["hits", ".data"], ["threshold", ".rodata"], ["total", ".bss"]]);
    // A __kconfig extern is an undefined weak symbol.
    assert.deepEqual(o.externs.map((e) => [e.name, e.bind, e.shndx]), [["CONFIG_HZ", STB.WEAK, 0]]);
    const ext = o.programs[0]!.relocations.find((r) => r.symbol === "CONFIG_HZ")!;
    assert.deepEqual([ext.kind, ext.symbolSectionIndex], ["lddw", 0]);
  });

  it("subprog: two programs in one section calling one .text subprogram", () => {
    const o = obj("subprog");
    assert.equal(o.version, 0x060c00);
    assert.deepEqual(o.programs.map((p) => [p.name, p.section, p.offset]), [["xdp_one", "xdp", 0], ["xdp_two", "xdp", 9], ["sock", "socket", 0]]);
    assert.deepEqual(o.subprograms.map((p) => [p.name, p.section, p.global]), [["scale", ".text", false]]);
    for (const p of o.programs.filter((p) => p.section === "xdp")) {
      assert.equal(p.relocations.length, 1);
      const r = p.relocations[0]!;
      assert.equal(r.type, R_BPF.R_64_32);
      assert.equal(r.kind, "call");
      assert.equal(r.symbolSection, ".text");
      assert.equal(p.insns[r.insn]!.code, 0x85);
      assert.deepEqual(r.callee, { section: ".text", sectionIndex: o.subprograms[0]!.sectionIndex, offset: 0, name: "scale" });
    }
  });

  it("legacy: a bpf_map_def in the `maps` section", () => {
    const o = obj("legacy");
    const maps = o.mapSections[0]!;
    assert.equal(maps.kind, "legacy");
    assert.deepEqual(maps.maps.map((m) => [m.name, m.size]), [["legacy_array", 20]]);
    const words = Array.from({ length: 5 }, (_, i) => new DataView(maps.data.buffer, maps.data.byteOffset).getUint32(i * 4, true));
    assert.deepEqual(words, [2, 4, 8, 16, 0]);
    assert.equal(o.programs[0]!.relocations[0]!.symbol, "legacy_array");
  });

  it("reads big-endian (bpfeb) objects to the same instructions", () => {
    for (const name of ["subprog", "globals"]) {
      const eb = readBpfObject(readBytes(compileFixture(name, dir, "bpfeb")), { check: true });
      const el = obj(name);
      assert.equal(eb.littleEndian, false);
      assert.equal(eb.license, el.license);
      assert.equal(eb.version, el.version);
      const strip = (o: BpfObject) => [...o.programs, ...o.subprograms].map((p) => ({ name: p.name, insns: p.insns, relocs: p.relocations.map((r) => [r.insn, r.symbol, r.type, r.addend]) }));
      assert.deepEqual(strip(eb), strip(el), name);
      assert.deepEqual(eb.dataSections.map((d) => [d.name, d.size]), el.dataSections.map((d) => [d.name, d.size]));
    }
  });

  it("reads objects without debug info or BTF", () => {
    const o = readBpfObject(readBytes(compileFixture("subprog", dir, "bpf", [])));
    assert.equal(o.btf, undefined);
    assert.equal(o.btfExt, undefined);
    assert.deepEqual(o.programs.map((p) => p.name), ["xdp_one", "xdp_two", "sock"]);
  });
});

describe("rejecting input that is not a BPF object", () => {
  const header = (patch: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = new Uint8Array(64);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    const v = new DataView(b.buffer);
    v.setUint16(16, 1, true);
    v.setUint16(18, 247, true);
    v.setUint16(52, 64, true);
    v.setUint16(58, 64, true);
    patch(b, v);
    return b;
  };
  const rejects = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(() => readBpfObject(bytes), (e: unknown) => e instanceof ElfError && pattern.test(e.message));
  };

  it("names the problem", () => {
    rejects(new Uint8Array(0), /too short/);
    rejects(new TextEncoder().encode("#!/bin/sh\necho not an object at all\n"), /bad magic/);
    rejects(header((b) => (b[4] = 1)), /not an ELF64 file/);
    rejects(header((b) => (b[5] = 3)), /data encoding/);
    rejects(header((_, v) => v.setUint16(18, 62, true)), /wrong machine 62/);
    rejects(header((_, v) => v.setUint16(16, 2, true)), /not a relocatable object/);
    rejects(header((_, v) => { v.setBigUint64(40, 64n, true); v.setUint16(60, 3, true); }), /outside the file/);
    rejects(header((_, v) => v.setBigUint64(40, 1n << 62n, true)), /too large/);
    rejects(header((_, v) => { v.setBigUint64(40, 0n, true); v.setUint16(58, 40, true); }).subarray(0, 40), /too short/);
  });

  it("reads a host-architecture object generically but not as a BPF object", { skip: CLANG ? false : "clang-19 is missing" }, () => {
    const dir = tempDir();
    try {
      const path = join(dir, "host.o");
      mustRun(CLANG!, ["-O2", "-c", join(FIXTURE_DIR, "host.c"), "-o", path]);
      const bytes = readBytes(path);
      const elf = readElf(bytes);
      assert.ok(elf.symbols.some((s) => s.name === "host_function"));
      assert.throws(() => readElf(bytes, { machine: 247 }), (e: unknown) => e instanceof ElfError && /wrong machine/.test(e.message));
      assert.throws(() => readBpfObject(bytes), (e: unknown) => e instanceof ElfError && /wrong machine \d+: expected 247/.test(e.message));
    } finally {
      removeDir(dir);
    }
  });

  it("checks instructions only when asked, and relocations always", () => {
    const object = (code: Uint8Array, reloc: boolean): Uint8Array => {
      const w = new ElfWriter();
      w.addSection("socket", { flags: SHF.ALLOC | SHF.EXECINSTR, data: code, align: 8 });
      w.addSymbol({ name: "p", section: "socket", size: code.length, type: "FUNC", bind: "GLOBAL" });
      w.addSymbol({ name: "x", bind: "GLOBAL" });
      if (reloc) w.addRelocation("socket", { offset: 0, symbol: "x", type: R_BPF.R_64_64 });
      return w.toBytes();
    };
    const bad = encode([{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }, exit()]);
    assert.equal(readBpfObject(object(bad, false)).programs[0]!.insns[0]!.code, 0xff);
    assert.throws(() => readBpfObject(object(bad, false), { check: true }), (e: unknown) => e instanceof ElfError && /program p in section socket: instruction 0: unknown opcode 0xff/.test(e.message));
    assert.throws(() => readBpfObject(object(encode([mov64Imm(0, 0), exit()]), true)), (e: unknown) => e instanceof ElfError && /neither LDDW nor CALL/.test(e.message));
  });

  it("accepts an object with no sections", () => {
    const o = readBpfObject(header(() => {}));
    assert.deepEqual([o.programs, o.dataSections, o.license], [[], [], undefined]);
    assert.equal(readElf(header(() => {})).sections.length, 0);
    assert.equal(SHT.NULL, 0);
  });
});
