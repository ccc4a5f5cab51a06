// Emitting BTF: a type of every kind loaded into the kernel (BPF_BTF_LOAD accepts it; a broken
// one is refused with a log), round trips through the parser in both byte orders, split BTF over
// vmlinux, and a .BTF.ext whose func_info/line_info a BPF_PROG_LOAD accepts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BtfBuilder,
  BtfError,
  BtfExtBuilder,
  BtfFuncLinkage,
  BtfIntEncoding,
  BtfKind,
  BtfVarLinkage,
  CoreReloKind,
  kernelFuncInfo,
  kernelLineInfo,
  parseBtf,
  parseBtfExt,
  withoutId,
  type BtfType,
} from "../../compiler/btf/index.js";
import { encode, exit, mov64Imm, alu64Imm, AluOp } from "../../compiler/isa/index.js";
import { BpfLoadError, ProgType, missingRoot, openSys } from "../../runtime/sys/index.js";
import { bpftoolFormat, bpftoolRaw, missingBpftool, missingVmlinux, mustRun, BPFTOOL, vmlinuxBytes } from "./oracle.js";

const needsKernel = { skip: missingRoot() ?? false };

/** One type of every kind, as a C compiler for BPF would describe `struct demo` and friends. */
function demoTypes(b: BtfBuilder): Record<string, number> {
  const ids: Record<string, number> = {};
  ids.int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  ids.uint = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  ids.char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  ids.bool = b.add({ kind: BtfKind.INT, name: "_Bool", size: 1, encoding: BtfIntEncoding.BOOL, offset: 0, bits: 8 });
  ids.u64 = b.add({ kind: BtfKind.INT, name: "unsigned long long", size: 8, encoding: 0, offset: 0, bits: 64 });
  ids.double = b.add({ kind: BtfKind.FLOAT, name: "double", size: 8 });
  ids.arrIdx = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  ids.cchar = b.add({ kind: BtfKind.CONST, name: "", type: ids.char });
  ids.comm = b.add({ kind: BtfKind.ARRAY, name: "", type: ids.cchar, indexType: ids.arrIdx, nelems: 16 });
  ids.fwd = b.add({ kind: BtfKind.FWD, name: "opaque", union: false });
  ids.fwdPtr = b.add({ kind: BtfKind.PTR, name: "", type: ids.fwd });
  ids.demo = b.reserve();
  ids.demoPtr = b.add({ kind: BtfKind.PTR, name: "", type: ids.demo });
  ids.vint = b.add({ kind: BtfKind.VOLATILE, name: "", type: ids.int });
  ids.rptr = b.add({ kind: BtfKind.RESTRICT, name: "", type: ids.fwdPtr });
  ids.tag = b.add({ kind: BtfKind.TYPE_TAG, name: "user", type: ids.int });
  ids.tagPtr = b.add({ kind: BtfKind.PTR, name: "", type: ids.tag });
  ids.u32 = b.add({ kind: BtfKind.TYPEDEF, name: "u32", type: ids.uint });
  ids.color = b.add({ kind: BtfKind.ENUM, name: "color", size: 4, signed: true, values: [{ name: "RED", value: -1 }, { name: "GREEN", value: 7 }] });
  ids.big = b.add({ kind: BtfKind.ENUM64, name: "big", size: 8, signed: false, values: [{ name: "HUGE", value: 0xfedcba9876543210n }] });
  ids.u = b.add({
    kind: BtfKind.UNION,
    name: "",
    size: 8,
    members: [
      { name: "a", type: ids.u64, bitOffset: 0, bitfieldSize: 0 },
      { name: "d", type: ids.double, bitOffset: 0, bitfieldSize: 0 },
    ],
  });
  b.set(ids.demo, {
    kind: BtfKind.STRUCT,
    name: "demo",
    size: 48,
    members: [
      { name: "pid", type: ids.int, bitOffset: 0, bitfieldSize: 0 },
      { name: "flag", type: ids.uint, bitOffset: 32, bitfieldSize: 1 },
      { name: "mode", type: ids.uint, bitOffset: 33, bitfieldSize: 3 },
      { name: "comm", type: ids.comm, bitOffset: 64, bitfieldSize: 0 },
      { name: "next", type: ids.demoPtr, bitOffset: 192, bitfieldSize: 0 },
      { name: "", type: ids.u, bitOffset: 256, bitfieldSize: 0 },
      { name: "color", type: ids.color, bitOffset: 320, bitfieldSize: 0 },
      { name: "counter", type: ids.vint, bitOffset: 352, bitfieldSize: 0 },
    ],
  });
  ids.memberTag = b.add({ kind: BtfKind.DECL_TAG, name: "tsbpf_tag", type: ids.demo, componentIdx: 0 });
  ids.proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: ids.int, params: [{ name: "ctx", type: ids.demoPtr }, { name: "n", type: ids.u32 }] });
  ids.func = b.add({ kind: BtfKind.FUNC, name: "demo_fn", type: ids.proto, linkage: BtfFuncLinkage.GLOBAL });
  ids.funcTag = b.add({ kind: BtfKind.DECL_TAG, name: "tsbpf_fn", type: ids.func, componentIdx: -1 });
  ids.var = b.add({ kind: BtfKind.VAR, name: "counter", type: ids.u64, linkage: BtfVarLinkage.GLOBAL_ALLOCATED });
  ids.var2 = b.add({ kind: BtfKind.VAR, name: "table", type: ids.comm, linkage: BtfVarLinkage.STATIC });
  ids.sec = b.add({
    kind: BtfKind.DATASEC,
    name: ".data",
    size: 24,
    vars: [
      { type: ids.var, offset: 0, size: 8 },
      { type: ids.var2, offset: 8, size: 16 },
    ],
  });
  ids.tagged = b.add({ kind: BtfKind.STRUCT, name: "with_user_ptr", size: 8, members: [{ name: "p", type: ids.tagPtr, bitOffset: 0, bitfieldSize: 0 }] });
  return ids;
}

const strip = (t: BtfType) => withoutId(t);

test("emitted BTF round-trips through the parser in both byte orders", () => {
  for (const littleEndian of [true, false]) {
    const b = new BtfBuilder({ littleEndian });
    const ids = demoTypes(b);
    const btf = parseBtf(b.toBytes());
    assert.equal(btf.littleEndian, littleEndian);
    assert.equal(btf.typeCount, b.nextId);
    for (let id = 1; id < btf.typeCount; id++) {
      const want = b.get(id)!;
      const got = strip(btf.typeById(id));
      if (want.kind === BtfKind.STRUCT || want.kind === BtfKind.UNION) {
        assert.deepEqual({ ...got, kindFlag: undefined }, { ...want, kindFlag: undefined }, `type [${id}]`);
      } else assert.deepEqual(got, want, `type [${id}]`);
    }
    const demo = btf.composite(ids.demo!);
    assert.equal(demo.kindFlag, true, "bitfields set kind_flag");
    assert.equal(btf.composite(ids.u!).kindFlag, false);
    assert.equal(btf.typeName(ids.comm!), "const char[16]");
    assert.equal(btf.typeName(ids.demoPtr!), "struct demo *");
    assert.equal(btf.typeName(ids.rptr!), "struct opaque *restrict");
    assert.equal(btf.typeName(ids.func!), "int demo_fn(struct demo *, u32)");
    assert.equal(btf.sizeOf(ids.demo!), 48);
    assert.equal(btf.alignOf(ids.demo!), 8);
    assert.equal(btf.findMember(ids.demo!, "d")!.bitOffset, 256);
    assert.deepEqual(btf.findMember(ids.demo!, "d")!.path, [5, 1]);
    assert.equal(btf.findMember(ids.demo!, "mode")!.member.bitfieldSize, 3);
    // Strings are stored once.
    const again = new BtfBuilder();
    assert.equal(again.addString("x"), again.addString("x"));
  }
});

test("a const array of const elements (as pahole writes `const char iname[]`) is named with one const", () => {
  const b = new BtfBuilder({ littleEndian: true });
  const ids = demoTypes(b);
  const constArray = b.add({ kind: BtfKind.CONST, name: "", type: ids.comm! });
  // (it was "const const char[16]")
  assert.equal(parseBtf(b.toBytes()).typeName(constArray), "const char[16]");
});

test("emitted BTF dumps with bpftool like the types we put in", { skip: missingBpftool ?? false }, () => {
  const b = new BtfBuilder();
  demoTypes(b);
  const bytes = b.toBytes();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-"));
  try {
    const path = join(dir, "demo.btf");
    writeFileSync(path, bytes);
    const raw = bpftoolRaw(path);
    const btf = parseBtf(bytes);
    for (let id = 1; id < btf.typeCount; id++) assert.deepEqual(bpftoolFormat(btf, btf.typeById(id)), raw.get(id), `type [${id}]`);
    const c = mustRun(BPFTOOL!, ["btf", "dump", "file", path, "format", "c"]);
    assert.match(c, /struct demo \{/);
    assert.match(c, /unsigned int flag: 1;/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the kernel accepts emitted BTF of every kind", needsKernel, () => {
  const sys = openSys();
  const b = new BtfBuilder();
  demoTypes(b);
  const { fd, log } = sys.btfLoad({ data: b.toBytes(), logLevel: 1 });
  try {
    assert.ok(fd > 0, log);
    assert.ok(sys.btfInfo(fd).id > 0, "sys.btfInfo(fd).id > 0");
  } finally {
    sys.close(fd);
  }
});

test("the kernel refuses broken BTF and says why", needsKernel, () => {
  const sys = openSys();
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  // A member whose type id does not exist.
  b.add({ kind: BtfKind.STRUCT, name: "bad", size: 4, members: [{ name: "x", type: int + 40, bitOffset: 0, bitfieldSize: 0 }] });
  assert.throws(
    () => sys.btfLoad({ data: b.toBytes(), logLevel: 1 }),
    (e: unknown) => e instanceof BpfLoadError && /Invalid member|Invalid type_id|member/i.test(e.log),
  );
  // The builder itself catches what cannot be encoded.
  assert.throws(() => b.add({ kind: BtfKind.STRUCT, name: "x", size: 4, kindFlag: false, members: [{ name: "b", type: int, bitOffset: 0, bitfieldSize: 3 }] }), BtfError);
  assert.throws(() => new BtfExtBuilder(b).addFuncInfo("s", 3, int), BtfError);
  assert.throws(() => new BtfExtBuilder(b).addCoreRelo("s", 0, int, "0:a", 0), BtfError);
});

test("split BTF over vmlinux: ids and strings continue the base", { skip: missingVmlinux ?? false }, () => {
  const base = parseBtf(vmlinuxBytes());
  const b = new BtfBuilder({ base });
  const sock = base.find("sock", BtfKind.STRUCT)!;
  const intId = base.find("int", BtfKind.INT)!.id;
  const p = b.add({ kind: BtfKind.PTR, name: "", type: sock.id });
  const s = b.add({
    kind: BtfKind.STRUCT,
    name: "tsbpf_module_thing",
    size: 16,
    members: [
      { name: "sk", type: p, bitOffset: 0, bitfieldSize: 0 },
      { name: "n", type: intId, bitOffset: 64, bitfieldSize: 0 },
    ],
  });
  assert.equal(p, base.typeCount);
  const split = parseBtf(b.toBytes(), { base });
  assert.equal(split.firstId, base.typeCount);
  assert.equal(split.typeName(p), "struct sock *");
  assert.equal(split.findIdsByName("tsbpf_module_thing")[0], s);
  assert.deepEqual(split.findIdsByName("sock", BtfKind.STRUCT), [sock.id]);
  assert.equal(split.findMember(s, "n")!.bitOffset, 64);
  assert.equal(split.typeById(sock.id).name, "sock");
  // Without its base the split blob does not parse (its strings start past offset 0).
  assert.throws(() => parseBtf(b.toBytes()), BtfError);
});

test("a parsed clang-style BTF copies into a builder unchanged", () => {
  const b = new BtfBuilder();
  demoTypes(b);
  const first = parseBtf(b.toBytes());
  const copy = BtfBuilder.from(first).toBytes();
  assert.deepEqual(copy, b.toBytes());
});

test(".BTF.ext round-trips and its func/line info load with a program", needsKernel, () => {
  const sys = openSys();
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const voidPtr = b.add({ kind: BtfKind.PTR, name: "", type: 0 });
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "ctx", type: voidPtr }] });
  const func = b.add({ kind: BtfKind.FUNC, name: "tsbpf_lines", type: proto, linkage: BtfFuncLinkage.GLOBAL });
  const ext = new BtfExtBuilder(b);
  const sec = "socket";
  ext.addFuncInfo(sec, 0, func);
  ext.addLineInfo(sec, 0, "probe.ts", "let r = 1;", 3, 5);
  ext.addLineInfo(sec, 8, "probe.ts", "r += 41;", 4, 5);
  ext.addLineInfo(sec, 16, "probe.ts", "return r;", 5, 3);
  ext.addCoreRelo(sec, 8, int, "0", CoreReloKind.TYPE_SIZE);
  const extBytes = ext.toBytes();
  const btfBytes = b.toBytes();

  const btf = parseBtf(btfBytes);
  const parsed = parseBtfExt(extBytes, { btf });
  assert.equal(parsed.headerLen, 32);
  assert.equal(parsed.funcInfo.length, 1);
  assert.equal(parsed.funcInfo[0]!.name, sec);
  assert.deepEqual(parsed.funcInfo[0]!.records, [{ insnOff: 0, typeId: func }]);
  assert.deepEqual(
    parsed.lineInfo[0]!.records.map((r) => [r.insnOff, r.fileName, r.lineText, r.line, r.col]),
    [
      [0, "probe.ts", "let r = 1;", 3, 5],
      [8, "probe.ts", "r += 41;", 4, 5],
      [16, "probe.ts", "return r;", 5, 3],
    ],
  );
  assert.deepEqual(parsed.coreRelos[0]!.records.map((r) => [r.insnOff, r.typeId, r.access, r.kind]), [[8, int, "0", CoreReloKind.TYPE_SIZE]]);
  // Parsed records give the same kernel arrays as the builder.
  assert.deepEqual(kernelFuncInfo(parsed.funcInfo[0]!.records), ext.kernelFuncInfo(sec));
  assert.deepEqual(kernelLineInfo(parsed.lineInfo[0]!.records), ext.kernelLineInfo(sec));

  const { fd: btfFd } = sys.btfLoad({ data: btfBytes, logLevel: 1 });
  try {
    const insns = encode([mov64Imm(0, 1), alu64Imm(AluOp.ADD, 0, 41), exit()]);
    const { fd } = sys.progLoad({
      type: ProgType.SOCKET_FILTER,
      insns,
      name: "tsbpf_lines",
      btfFd,
      funcInfo: ext.kernelFuncInfo(sec),
      lineInfo: ext.kernelLineInfo(sec),
      logLevel: 0,
    });
    try {
      const info = sys.progInfo(fd);
      assert.equal(info.nrFuncInfo, 1);
      assert.equal(info.nrLineInfo, 3);
      assert.ok(info.btfId > 0, "info.btfId > 0");
    } finally {
      sys.close(fd);
    }
    // Line info pointing past the program is refused.
    const bad = new BtfExtBuilder(b);
    bad.addFuncInfo(sec, 0, func);
    // (Strings already in the loaded BTF, so only the offset is wrong.)
    bad.addLineInfo(sec, 0, "probe.ts", "let r = 1;", 1, 1);
    bad.addLineInfo(sec, 800, "probe.ts", "r += 41;", 2, 1);
    assert.throws(
      () => sys.progLoad({ type: ProgType.SOCKET_FILTER, insns, btfFd, funcInfo: bad.kernelFuncInfo(sec), lineInfo: bad.kernelLineInfo(sec), logLevel: 1 }),
      BpfLoadError,
    );
  } finally {
    sys.close(btfFd);
  }
});
