// clang-19 objects: their .BTF against `bpftool btf dump file x.o`, their .BTF.ext against the
// ELF symbols (func_info) and the source text (line_info), and re-emission through the builders.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readBpfObject } from "../../compiler/elf/index.js";
import { BtfBuilder, BtfExtBuilder, BtfKind, parseBtf, parseBtfExt, type BtfExt } from "../../compiler/btf/index.js";
import { FIXTURES, bpftoolFormat, bpftoolRaw, compileBpf, missingBpftool, missingClang, readBytes, removeDir, tempDir } from "./oracle.js";

const skip = { skip: missingClang ?? missingBpftool ?? false };

function load(name: string, dir: string) {
  const path = compileBpf(name, dir);
  const obj = readBpfObject(readBytes(path));
  assert.ok(obj.btf && obj.btfExt, `${name} has .BTF and .BTF.ext`);
  const btf = parseBtf(obj.btf);
  const ext = parseBtfExt(obj.btfExt, { btf });
  return { path, obj, btf, ext };
}

test("clang objects' .BTF matches bpftool's dump", skip, () => {
  const dir = tempDir();
  try {
    for (const name of ["core", "line"]) {
      const { path, btf } = load(name, dir);
      const raw = bpftoolRaw(path);
      assert.equal(btf.typeCount - 1, raw.size);
      for (let id = 1; id < btf.typeCount; id++) assert.deepEqual(bpftoolFormat(btf, btf.typeById(id)), raw.get(id), `${name} [${id}]`);
    }
  } finally {
    removeDir(dir);
  }
});

test("func_info points at the functions' symbols; line_info at real source lines", skip, () => {
  const dir = tempDir();
  try {
    const { obj, btf, ext } = load("line", dir);
    assert.equal(ext.headerLen, 32);
    assert.equal(ext.funcInfoRecSize, 8);
    assert.equal(ext.lineInfoRecSize, 16);
    const funcs = [...obj.programs, ...obj.subprograms];
    const seen: string[] = [];
    for (const sec of ext.funcInfo) {
      for (const r of sec.records) {
        const f = btf.typeById(r.typeId);
        assert.equal(f.kind, BtfKind.FUNC);
        const prog = funcs.find((p) => p.name === f.name);
        assert.ok(prog, `function ${f.name}`);
        assert.equal(prog.section, sec.name);
        assert.equal(prog.offset * 8, r.insnOff);
        seen.push(f.name);
      }
    }
    assert.deepEqual(seen.sort(), ["line_prog", "other_prog", "twice"]);
    const source = readFileSync(join(FIXTURES, "line.bpf.c"), "utf8").split("\n");
    let lines = 0;
    for (const sec of ext.lineInfo) {
      let last = -1;
      for (const r of sec.records) {
        assert.ok(r.insnOff > last, "increasing offsets");
        last = r.insnOff;
        assert.ok(r.fileName!.endsWith("line.bpf.c"), "check");
        assert.equal(r.lineText, source[r.line - 1], `line ${r.line}`);
        assert.ok(r.col >= 0 && r.col < 1024, "r.col >= 0 && r.col < 1024");
        lines++;
      }
    }
    assert.ok(lines >= 6, "lines >= 6");
  } finally {
    removeDir(dir);
  }
});

test("CO-RE relocation records of a clang object decode", skip, () => {
  const dir = tempDir();
  try {
    const { btf, ext } = load("core", dir);
    assert.equal(ext.coreReloRecSize, 16);
    assert.equal(ext.coreRelos.length, 1);
    assert.equal(ext.coreRelos[0]!.name, "kprobe/core");
    const recs = ext.coreRelos[0]!.records;
    assert.ok(recs.length > 30, "recs.length > 30");
    for (const r of recs) {
      assert.match(r.access!, /^\d+(:\d+)*$/);
      assert.ok(r.kind <= 12, "r.kind <= 12");
      assert.equal(r.insnOff % 8, 0);
      assert.ok(r.typeId > 0 && r.typeId < btf.typeCount, "r.typeId > 0 && r.typeId < btf.typeCount");
    }
    const first = recs[0]!;
    assert.equal(btf.typeName(first.typeId), "struct task_struct");
    assert.equal(first.access, "0:0");
  } finally {
    removeDir(dir);
  }
});

/** Re-creates an object's .BTF and .BTF.ext with our builders. */
function reemit(btfBytes: Uint8Array, ext: BtfExt): { btf: Uint8Array; ext: Uint8Array } {
  const src = parseBtf(btfBytes);
  const b = BtfBuilder.from(src);
  const e = new BtfExtBuilder(b);
  for (const s of ext.funcInfo) for (const r of s.records) e.addFuncInfo(s.name!, r.insnOff, r.typeId);
  for (const s of ext.lineInfo) for (const r of s.records) e.addLineInfo(s.name!, r.insnOff, r.fileName!, r.lineText!, r.line, r.col);
  for (const s of ext.coreRelos) for (const r of s.records) e.addCoreRelo(s.name!, r.insnOff, r.typeId, r.access!, r.kind);
  const extBytes = e.toBytes();
  return { btf: b.toBytes(), ext: extBytes };
}

test("re-emitted .BTF/.BTF.ext of clang objects carry the same content (bpftool agrees)", skip, () => {
  const dir = tempDir();
  try {
    for (const name of ["core", "line"]) {
      const { obj, btf, ext } = load(name, dir);
      const again = reemit(obj.btf!, ext);
      const btf2 = parseBtf(again.btf);
      const ext2 = parseBtfExt(again.ext, { btf: btf2 });
      const path = join(dir, `${name}.btf`);
      writeFileSync(path, again.btf);
      const raw = bpftoolRaw(path);
      for (let id = 1; id < btf.typeCount; id++) {
        assert.deepEqual(btf2.typeById(id), btf.typeById(id));
        assert.deepEqual(raw.get(id), bpftoolFormat(btf, btf.typeById(id)));
      }
      const strip = (x: BtfExt) =>
        JSON.stringify([
          x.funcInfo.map((s) => [s.name, s.records.map((r) => [r.insnOff, r.typeId])]),
          x.lineInfo.map((s) => [s.name, s.records.map((r) => [r.insnOff, r.fileName, r.lineText, r.line, r.col])]),
          x.coreRelos.map((s) => [s.name, s.records.map((r) => [r.insnOff, r.typeId, r.access, r.kind])]),
        ]);
      assert.equal(strip(ext2), strip(ext));
      // Same layout as clang: equal section sizes.
      assert.equal(again.ext.length, obj.btfExt!.length);
    }
  } finally {
    removeDir(dir);
  }
});
