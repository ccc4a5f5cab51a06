// compiler/frontend/kernel-types.ts: the lean StructReader the compiler looks kernel structs up with must give
// exactly what the full BTF parser gives, on the running kernel's vmlinux (skipped without one) and on a
// built blob with the cases that matter (anonymous unions of anonymous structs, bitfields, enums, typedefs).

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BtfBuilder, BtfError, BtfIntEncoding, BtfKind, parseBtf } from "../../compiler/btf/index.js";
import { MAX_EMBEDDED, StructReader, addPointedStructs, importKernelName, kernelModuleText, kernelStruct, mentionedMembers, noKernelImports, rawTracepointArgs, rawTracepointNames } from "../../compiler/frontend/kernel-types.js";
import { compile } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { readBpfObject } from "../../compiler/elf/read.js";
import { kernelBtf, resolveCore } from "../../runtime/loader/core.js";
import { simulate } from "../../runtime/test/index.js";
import { noLlvm } from "../llvm/support.js";

function same(bytes: Buffer, names: string[]): void {
  const lean = StructReader.open(bytes);
  assert.ok(lean, "the blob is one StructReader reads");
  const full = parseBtf(bytes);
  for (const name of names) assert.deepEqual(kernelStruct(lean, name), kernelStruct(full, name), name);
}

test("StructReader finds and lays out structs as the BTF parser does (built blob)", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const u16 = b.add({ kind: BtfKind.INT, name: "unsigned short", size: 2, encoding: 0, offset: 0, bits: 16 });
  const pid = b.add({ kind: BtfKind.TYPEDEF, name: "pid_t", type: int });
  const str = b.add({ kind: BtfKind.PTR, name: "", type: b.add({ kind: BtfKind.CONST, name: "", type: char }) });
  const state = b.add({ kind: BtfKind.ENUM, name: "state", size: 4, signed: true, values: [{ name: "A", value: -1 }] });
  const arr = b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: int, nelems: 16 });
  const inner = b.add({ kind: BtfKind.STRUCT, name: "", size: 4, members: [{ name: "lo", type: u16, bitOffset: 0, bitfieldSize: 0 }, { name: "hi", type: u16, bitOffset: 16, bitfieldSize: 0 }] });
  const self = b.reserve();
  b.set(self, { kind: BtfKind.STRUCT, name: "thing", size: 64, kindFlag: true, members: [
    { name: "pid", type: pid, bitOffset: 0, bitfieldSize: 0 },
    { name: "name", type: str, bitOffset: 64, bitfieldSize: 0 },
    { name: "comm", type: arr, bitOffset: 128, bitfieldSize: 0 },
    { name: "", type: b.add({ kind: BtfKind.UNION, name: "", size: 4, members: [{ name: "", type: inner, bitOffset: 0, bitfieldSize: 0 }] }), bitOffset: 256, bitfieldSize: 0 },
    { name: "flags", type: int, bitOffset: 288, bitfieldSize: 3 },
    { name: "state", type: state, bitOffset: 320, bitfieldSize: 0 },
    { name: "next", type: b.add({ kind: BtfKind.PTR, name: "", type: self }), bitOffset: 384, bitfieldSize: 0 },
  ] });
  b.add({ kind: BtfKind.UNION, name: "either", size: 4, members: [{ name: "i", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  same(Buffer.from(b.toBytes()), ["thing", "either", "missing", "int"]);
});

test("StructReader indexes records only as far as a lookup walks, and a record it cannot read is a BtfError", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  b.add({ kind: BtfKind.STRUCT, name: "early", size: 4, members: [{ name: "x", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const last = b.add({ kind: BtfKind.TYPEDEF, name: "late_t", type: int });
  const bytes = Buffer.from(b.toBytes());
  // The last record's kind becomes 31, which no BTF version has.
  const hdrLen = bytes.readUInt32LE(4);
  const typeStart = hdrLen + bytes.readUInt32LE(8);
  const typeLen = bytes.readUInt32LE(12);
  const info = typeStart + typeLen - 12 + 4;
  assert.equal((bytes.readUInt32LE(info) >>> 24) & 0x1f, BtfKind.TYPEDEF, `type [${last}] is the last record`);
  bytes.writeUInt32LE((bytes.readUInt32LE(info) & 0xe0ffffff) | (31 << 24), info);
  const lean = StructReader.open(bytes)!;
  assert.ok(lean, "the header is all open() checks");
  assert.equal(kernelStruct(lean, "early")?.members.get("x")?.size, 4);
  assert.throws(() => lean.find("late_t"), (e: unknown) => e instanceof BtfError && /invalid kind 31/.test(e.message));
  assert.throws(() => parseBtf(bytes), BtfError, "the full parser refuses it too");
  // In a compile, importing a name that leads the search there is a diagnostic, not a crash.
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-"));
  try {
    const vmlinuxBtf = join(dir, "vmlinux");
    writeFileSync(vmlinuxBtf, bytes);
    const text = `import { kprobe } from "tsbpf";\nimport type { late_t } from "tsbpf/kernel";\nexport const license = "GPL";\nexport const p = kprobe("f", (x: late_t) => 0);\n`;
    const r = compile({ fileName: "late.ts", text }, { arch: "x86_64", vmlinuxBtf });
    assert.equal(r.object.length, 0, "no object");
    assert.match(r.diagnostics.map((d) => d.message).join("\n"), /cannot read the kernel's BTF .*invalid kind 31/);
    // Imports looked for together (StructReader.prefetch) meet the record in that walk: still the import's diagnostic.
    const both = compile({ fileName: "late.ts", text: text.replace("type { late_t }", "type { early, late_t }") }, { arch: "x86_64", vmlinuxBtf });
    assert.deepEqual(both.diagnostics.map((d) => [d.code, /invalid kind 31/.test(d.message)]), [["TSBPF1021", true]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("StructReader finds the first type of each kind of a shared name, whatever order the kinds are asked in", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const fwd = b.add({ kind: BtfKind.FWD, name: "shared", union: false });
  const struct = b.add({ kind: BtfKind.STRUCT, name: "shared", size: 4, members: [{ name: "x", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: BtfKind.STRUCT, name: "shared", size: 8, members: [] });
  const typedef = b.add({ kind: BtfKind.TYPEDEF, name: "shared", type: struct });
  b.add({ kind: BtfKind.ENUM, name: "", size: 4, signed: false, values: [{ name: "shared_value", value: 3 }] });
  const bytes = Buffer.from(b.toBytes());
  const full = parseBtf(bytes);
  const orders: (number | undefined)[][] = [[BtfKind.TYPEDEF, BtfKind.STRUCT, undefined, BtfKind.UNION, BtfKind.FWD], [undefined, BtfKind.UNION, BtfKind.TYPEDEF, BtfKind.STRUCT], [BtfKind.ENUM, BtfKind.STRUCT, BtfKind.FWD]];
  for (const [n, order] of [...orders, ...orders].entries()) {
    // One reader per order: what an earlier question walked past is what a later one is answered from; the second
    // time round, after a walk for two names together that stops once both are met.
    const lean = StructReader.open(bytes)!;
    if (n >= orders.length) lean.prefetch(["int", "shared"]);
    for (const kind of order) assert.equal(lean.find("shared", kind)?.id, full.find("shared", kind)?.id, `kind ${kind} after ${order.slice(0, order.indexOf(kind))}`);
    assert.equal(lean.enumerator("shared_value"), 3n);
    assert.equal(lean.find("shared_value"), undefined, "an enumerator's name is no type's");
    assert.equal(lean.find("nowhere"), undefined);
  }
  assert.deepEqual([full.find("shared")?.id, full.find("shared", BtfKind.STRUCT)?.id, full.find("shared", BtfKind.TYPEDEF)?.id], [fwd, struct, typedef], "the parser's answers, which the reader's must equal");
});

test("names looked for together in the running kernel's BTF resolve as they do one by one", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  const bytes = readFileSync("/sys/kernel/btf/vmlinux");
  const names = ["tcp_sock", "TCP_SYN_SENT", "TCP_CLOSE", "IPPROTO_TCP", "task_struct", "pid_t", "bpf_map_type", "AF_INET", "no_such_name", "sock"];
  const resolve = (reader: StructReader) => {
    const into = noKernelImports();
    return { found: names.map((n) => importKernelName(reader, n, into)), into };
  };
  const alone = resolve(StructReader.open(bytes)!);
  const together = StructReader.open(bytes)!;
  together.prefetch(names);
  assert.deepEqual(resolve(together), alone);
  assert.deepEqual(alone.found, [true, true, true, true, true, true, true, false, false, true]);
});

test("StructReader agrees with the BTF parser on the running kernel's structs", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  same(readFileSync("/sys/kernel/btf/vmlinux"), ["filename", "task_struct", "sock", "sock_common", "sk_buff", "file", "inode", "dentry", "path", "mm_struct", "cred", "pt_regs", "no_such_struct"]);
});

test("imports of enums, integer typedefs and enum constants resolve alike through StructReader and the BTF parser", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  b.add({ kind: BtfKind.TYPEDEF, name: "pid_t", type: int });
  b.add({ kind: BtfKind.ENUM, name: "state", size: 4, signed: true, values: [{ name: "ST_A", value: -1 }, { name: "ST_B", value: 7 }] });
  b.add({ kind: BtfKind.ENUM, name: "", size: 4, signed: false, values: [{ name: "ANON_X", value: 0xfffffffe }] });
  b.add({ kind: BtfKind.ENUM64, name: "", size: 8, signed: false, values: [{ name: "BIG", value: 2n ** 63n + 5n }] });
  const bytes = Buffer.from(b.toBytes());
  const names = ["pid_t", "state", "ST_B", "ANON_X", "BIG", "nothing"];
  const resolve = (source: Parameters<typeof importKernelName>[0]) => {
    const into = noKernelImports();
    const found = names.map((n) => importKernelName(source, n, into));
    return { found, into };
  };
  const lean = resolve(StructReader.open(bytes)!);
  assert.deepEqual(lean, resolve(parseBtf(bytes)));
  // Looked for together first (a compile's imports), each is found as when it is looked for alone.
  const together = StructReader.open(bytes)!;
  together.prefetch(names);
  assert.deepEqual(resolve(together), lean);
  assert.deepEqual(lean.found, [true, true, true, true, true, false]);
  assert.deepEqual(lean.into.typedefs.get("pid_t"), { name: "pid_t", size: 4, signed: true });
  assert.deepEqual([...lean.into.enums.get("state")!.values], [["ST_A", -1n], ["ST_B", 7n]]);
  assert.deepEqual([...lean.into.constants], [["ST_B", 7n], ["ANON_X", 0xfffffffen], ["BIG", 2n ** 63n + 5n]]);
});

test("a probe compares with kernel enum constants and takes a typedef parameter at its width", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  const text = `import { kprobe, printk, type i32 } from "tsbpf";
import type { pid_t } from "tsbpf/kernel";
import { TCP_ESTABLISHED, bpf_map_type } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("tcp_set_state", (_sk: i32, state: i32, who: pid_t) => {
  if (state === TCP_ESTABLISHED) printk(\`established \${who}\`);
  if (state === bpf_map_type.BPF_MAP_TYPE_RINGBUF) printk(\`ringbuf\`);
  return 0;
});
`;
  const r = compile({ fileName: "consts.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  const asm = r.programs.map((p) => disassemble(p.insns).join("\n")).join("\n");
  assert.match(asm, /if r\d != 0x1 goto/, "TCP_ESTABLISHED is 1");
  assert.match(asm, /if r\d != 0x1b goto/, "BPF_MAP_TYPE_RINGBUF is 27");
});

test("a name the kernel's BTF lacks (a macro such as AF_INET) is one diagnostic, not also TypeScript's missing export", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  const text = `import { kprobe, printk, type i32 } from "tsbpf";
import { TCP_ESTABLISHED, AF_INET } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("tcp_set_state", (_sk: i32, state: i32) => {
  if (state === TCP_ESTABLISHED || state === AF_INET) printk(\`state \${state}\`);
  return 0;
});
`;
  const r = compile({ fileName: "macro.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`), ["2:27 TSBPF1021"]);
  assert.match(r.diagnostics[0]!.message, /no struct, union, enum, integer typedef or enum constant named AF_INET/);
});

test("a pointer cast to another kernel struct (C's (struct tcp_sock *)sk) compiles; other unrelated casts stay TypeScript errors", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, () => {
  const probe = (body: string) => `import { kprobe, printk, comm, type Ptr, type u32 } from "tsbpf";
import type { sock, tcp_sock } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("tcp_sendmsg", (sk: Ptr<sock>) => {
  ${body}
  return 0;
});
`;
  const r = compile({ fileName: "cast.ts", text: probe("const tp = sk as Ptr<tcp_sock>; printk(`${tp.is_mptcp} ${sk.sk_use_task_frag}`);") }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.programs[0]!.coreRelocations.map((c) => `${c.struct}.${c.members.join(".")}`), ["tcp_sock.is_mptcp", "sock.sk_use_task_frag"]);
  const wrong = compile({ fileName: "cast.ts", text: probe("const n = comm() as u32; printk(`${n}`);") }, { arch: "x86_64" });
  assert.deepEqual(wrong.diagnostics.map((d) => d.code), ["TS2352"]);
});

/** The byte offset of a named member of a struct in a parsed BTF (no anonymous members on the way). */
function offsetIn(btf: ReturnType<typeof parseBtf>, struct: string, member: string): number {
  const t = btf.find(struct, BtfKind.STRUCT)!;
  if (t.kind !== BtfKind.STRUCT) throw new Error(`${struct} is not a struct`);
  return t.members.find((m) => m.name === member)!.bitOffset / 8;
}

test("members embedded by value and arrays: their layouts, the closure of embedded structs, and their declarations (built blob)", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const index = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  const words = b.add({ kind: BtfKind.ARRAY, name: "", type: int, indexType: index, nelems: 4 });
  const deepest = b.add({ kind: BtfKind.STRUCT, name: "deepest", size: 4, members: [{ name: "d", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const inner = b.add({ kind: BtfKind.STRUCT, name: "inner", size: 24, members: [
    { name: "x", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "deep", type: deepest, bitOffset: 32, bitfieldSize: 0 },
    { name: "words", type: words, bitOffset: 64, bitfieldSize: 0 },
  ] });
  const anon = b.add({ kind: BtfKind.UNION, name: "", size: 4, members: [{ name: "as_int", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: BtfKind.STRUCT, name: "outer", size: 64, kindFlag: true, members: [
    { name: "head", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "in", type: inner, bitOffset: 64, bitfieldSize: 0 },
    { name: "name", type: b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: index, nelems: 16 }), bitOffset: 256, bitfieldSize: 0 },
    { name: "u", type: anon, bitOffset: 384, bitfieldSize: 0 },
    { name: "flags", type: int, bitOffset: 416, bitfieldSize: 3 },
  ] });
  const bytes = Buffer.from(b.toBytes());
  same(bytes, ["outer", "inner"]);

  const into = noKernelImports();
  assert.ok(importKernelName(StructReader.open(bytes)!, "outer", into));
  assert.deepEqual([...into.structs.keys()], ["outer", "inner", "outer__u", "deepest"], "the structs outer embeds, transitively, and no others");
  const outer = into.structs.get("outer")!;
  assert.deepEqual(outer.members.get("in"), { name: "in", index: 1, offset: 8, kind: "struct", size: 24, struct: "inner", typeId: inner });
  assert.deepEqual(outer.members.get("name"), { name: "name", index: 2, offset: 32, kind: "array", size: 16, element: { kind: "int", size: 1, signed: true }, length: 16, string: true });
  assert.equal(outer.members.get("u")?.kind, "struct", "a named member of anonymous type is a struct of a made-up name");
  assert.equal(into.structs.get("outer__u")?.members.get("as_int")?.offset, 0);
  assert.deepEqual(into.structs.get("inner")!.members.get("words"), { name: "words", index: 2, offset: 8, kind: "array", size: 16, element: { kind: "int", size: 4, signed: true }, length: 4, string: false });
  assert.deepEqual(outer.members.get("flags"), { name: "flags", index: 4, offset: 52, kind: "int", size: 4, signed: true, bitfield: { bitOffset: 416, bits: 3 } }, "a bitfield reads as its integer type");
  assert.equal(outer.unreadable.has("flags"), false);

  const text = kernelModuleText(into);
  assert.match(text, /export interface outer \{[^}]*readonly "in": inner;[^}]*readonly "name": Str<16>;[^}]*readonly "u": outer__u;[^}]*readonly "flags": i32;/);
  assert.match(text, /export interface inner \{[^}]*readonly "deep": deepest;[^}]*readonly "words": Arr<i32, 4>;/);
  assert.match(text, /export interface deepest \{\n {4}readonly "d": i32;\n {2}\}/);
});

const onVmlinux = { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" };

test("the running kernel's sock and task_struct: embedded members and arrays at the offsets BTF gives", onVmlinux, () => {
  const full = parseBtf(readFileSync("/sys/kernel/btf/vmlinux"));
  const into = noKernelImports();
  const lean = StructReader.open(readFileSync("/sys/kernel/btf/vmlinux"))!;
  assert.ok(importKernelName(lean, "sock", into) && importKernelName(lean, "task_struct", into));
  assert.ok(into.structs.size <= MAX_EMBEDDED + 2, `${into.structs.size} structs declared`);
  const sock = into.structs.get("sock")!;
  assert.deepEqual({ ...sock.members.get("__sk_common"), typeId: 0 }, { name: "__sk_common", index: 0, offset: 0, kind: "struct", size: into.structs.get("sock_common")!.size, struct: "sock_common", typeId: 0 });
  assert.equal(into.structs.get("sock_common")!.members.get("skc_family")!.offset, offsetIn(full, "sock_common", "skc_family"));
  const task = into.structs.get("task_struct")!;
  const comm = task.members.get("comm")!;
  assert.ok(comm.kind === "array" && comm.string && comm.length === 16, "comm is a char[16]");
  assert.equal(comm.offset, offsetIn(full, "task_struct", "comm"));
  assert.equal(task.members.get("thread_info")?.kind, "struct");
  // in6_addr's `union { ... } in6_u` has no type name: it is declared as in6_addr__in6_u.
  const words = into.structs.get("in6_addr__in6_u")?.members.get("u6_addr32");
  assert.ok(words?.kind === "array" && !words.string && words.length === 4 && words.element.size === 4);

  const text = kernelModuleText(into);
  assert.match(text, /readonly "__sk_common": sock_common;/);
  assert.match(text, /export interface sock_common \{/);
  assert.match(text, /readonly "comm": Str<16>;/);
  assert.match(text, /readonly "u6_addr32": Arr<u32, 4>;/);
});

test("a probe reading sock.__sk_common.skc_family and task.comm: one probe read per chain, relocated at the member's offset", onVmlinux, () => {
  const full = parseBtf(readFileSync("/sys/kernel/btf/vmlinux"));
  const text = `import { kprobe, printk, type Ptr } from "tsbpf";
import type { sock, task_struct } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("tcp_connect", (sk: Ptr<sock>, task: Ptr<task_struct>) => {
  printk(\`\${sk.__sk_common.skc_family} \${task.comm}\`);
  return 0;
});
`;
  const r = compile({ fileName: "nested.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  const p = r.programs[0]!;
  const relocs = p.coreRelocations.map((c) => ({ path: [c.struct, ...c.members].join("."), imm: p.insns[c.insn]!.imm }));
  assert.deepEqual(relocs, [
    { path: "sock.__sk_common.skc_family", imm: offsetIn(full, "sock", "__sk_common") + offsetIn(full, "sock_common", "skc_family") },
    { path: "task_struct.comm", imm: offsetIn(full, "task_struct", "comm") },
  ]);
  const asm = disassemble(p.insns).join("\n");
  // One probe read per chain; comm's is read into a buffer with a byte after it, where printk's %s finds a NUL.
  assert.equal(asm.match(/call bpf_probe_read_kernel#113/g)?.length, 2, "one probe read each");
  assert.match(asm, /r2 = 16\n.*call bpf_probe_read_kernel#113\n[^]*\*\(u8 \*\)\(r10 -\d+\) = 0/, "then the NUL after its 16 bytes");
  assert.match(asm, /r2 = 16\n.*call bpf_probe_read_kernel/, "comm is read whole: 16 bytes");
});

test("with the members a probe mentions, an import decodes and declares only those, and the structs they embed", onVmlinux, () => {
  const lean = StructReader.open(readFileSync("/sys/kernel/btf/vmlinux"))!;
  const into = noKernelImports();
  const mentioned = mentionedMembers('const f = sk.__sk_common.skc_family; const d = sk["__sk_common"].skc_daddr;');
  assert.ok(importKernelName(lean, "sock", into, mentioned));
  assert.deepEqual([...into.structs.keys()], ["sock", "sock_common"]);
  assert.deepEqual([...into.structs.get("sock")!.members.keys()], ["__sk_common"]);
  assert.deepEqual([...into.structs.get("sock_common")!.members.keys()].sort(), ["skc_daddr", "skc_family"]);
  const text = kernelModuleText(into);
  assert.doesNotMatch(text, /sk_mark|skc_num/, "members never named are not declared");
});

test("the structs imported ones point to through named members are declared too, after the imports and what they embed", onVmlinux, () => {
  const lean = StructReader.open(readFileSync("/sys/kernel/btf/vmlinux"))!;
  const into = noKernelImports();
  const mentioned = mentionedMembers("f.f_path.dentry.d_parent.d_name.name; f.f_inode.i_ino; sk.__sk_common.skc_family");
  assert.ok(importKernelName(lean, "file", into, mentioned) && importKernelName(lean, "sock", into, mentioned));
  addPointedStructs(lean, into, mentioned);
  assert.deepEqual([...into.structs.keys()], ["file", "path", "sock", "sock_common", "inode", "dentry", "qstr"]);
  assert.match(kernelModuleText(into), /export interface path \{\n {4}readonly "dentry": Ptr<dentry>;/);
  // Past MAX_EMBEDDED structs, a pointer stays a bare Ptr rather than crowding out what an import embeds.
  const all = noKernelImports();
  assert.ok(importKernelName(lean, "task_struct", all));
  addPointedStructs(lean, all, () => true);
  assert.ok(all.structs.size <= MAX_EMBEDDED + 1, `${all.structs.size} structs declared`);
  assert.equal(all.structs.get("task_struct")!.unreadable.size, importedAlone(lean, "task_struct").unreadable.size);
});

function importedAlone(btf: StructReader, name: string) {
  const into = noKernelImports();
  importKernelName(btf, name, into);
  return into.structs.get(name)!;
}

test("a raw tracepoint's arguments come from its btf_trace_ prototype, pointers tagged __user or __percpu marked foreign", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const bool = b.add({ kind: BtfKind.INT, name: "_Bool", size: 1, encoding: BtfIntEncoding.BOOL, offset: 0, bits: 8 });
  const task = b.reserve();
  const tagged = (tag: string) => b.add({ kind: BtfKind.PTR, name: "", type: b.add({ kind: BtfKind.TYPE_TAG, name: tag, type: task }) });
  b.set(task, { kind: BtfKind.STRUCT, name: "task_struct", size: 32, members: [
    { name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "parent", type: tagged("rcu"), bitOffset: 64, bitfieldSize: 0 },
    { name: "user_copy", type: tagged("user"), bitOffset: 128, bitfieldSize: 0 },
  ] });
  const voidPtr = b.add({ kind: BtfKind.PTR, name: "", type: 0 });
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: 0, params: [{ name: "", type: voidPtr }, { name: "", type: bool }, { name: "", type: b.add({ kind: BtfKind.PTR, name: "", type: task }) }, { name: "", type: int }] });
  b.add({ kind: BtfKind.TYPEDEF, name: "btf_trace_thing_switch", type: b.add({ kind: BtfKind.PTR, name: "", type: proto }) });
  b.add({ kind: BtfKind.TYPEDEF, name: "btf_trace_thing_wake", type: b.add({ kind: BtfKind.PTR, name: "", type: proto }) });
  const bytes = Buffer.from(b.toBytes());
  for (const btf of [StructReader.open(bytes)!, parseBtf(bytes)]) {
    assert.deepEqual(rawTracepointArgs(btf, "thing_switch"), [
      { kind: "int", size: 1, signed: false, bool: true },
      { kind: "ptr", size: 8, signed: false, pointee: "task_struct", pointeeId: task },
      { kind: "int", size: 4, signed: true },
    ]);
    assert.equal(rawTracepointArgs(btf, "thing_nothing"), undefined);
    assert.deepEqual(rawTracepointNames(btf), ["thing_switch", "thing_wake"]);
    const members = kernelStruct(btf, "task_struct")!.members;
    assert.equal((members.get("parent") as { foreign?: true }).foreign, undefined, "__rcu pointers load as typed pointers");
    assert.equal((members.get("user_copy") as { foreign?: true }).foreign, true);
  }
});

test("an enum member is declared in the object's BTF as an enum of the kernel's name, which CO-RE matches (both backends)", onVmlinux, () => {
  // libbpf matches an enum member only with an enum of the same name (or an anonymous one): an integer in the
  // object's BTF made every enum member (request.state, socket.state) fail to relocate.
  const text = `import { rawTracepoint, printf } from "tsbpf";
export const license = "GPL";
export const p = rawTracepoint("inet_sock_set_state", (sk) => {
  printf("%d\\n", sk.sk_socket.state);
});
export const q = rawTracepoint("block_rq_issue", (rq) => {
  printf("%d\\n", rq.state);
});
`;
  const vmlinux = kernelBtf();
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "enum.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const raw = readBpfObject(r.object);
    const local = parseBtf(raw.btf!);
    const memberType = (struct: string, member: string) => {
      const t = local.find(struct, BtfKind.STRUCT);
      assert.ok(t?.kind === BtfKind.STRUCT, backend);
      const m = local.resolveType(t.members.find((x) => x.name === member)!.type);
      return [m.kind, m.name, (m as { size: number }).size];
    };
    assert.deepEqual(memberType("request", "state"), [BtfKind.ENUM, "mq_rq_state", 4], backend);
    // socket_state is a typedef of an anonymous enum: anonymous here too, which libbpf matches with any enum.
    assert.deepEqual(memberType("socket", "state"), [BtfKind.ENUM, "", 4], backend);
    const results = [...resolveCore(raw, vmlinux).values()].flatMap((s) => [...s.values()]);
    assert.ok(results.length > 0 && results.every((c) => c.ok), `${backend}: ${results.map((c) => (c.ok ? "ok" : c.error)).join("; ")}`);
  }
});

test("a kernel struct named by a TypeScript reserved word is imported as tsbpf btf declares it (class_ for struct class), and relocated by its C name", onVmlinux, () => {
  const text = `import { kprobe, printf, readKernelStr, type Ptr } from "tsbpf";
import type { device, class_ } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("device_add", (dev: Ptr<device>) => {
  const c: Ptr<class_> | null = dev.class;
  if (c) printf("%s\\n", readKernelStr(c.name));
});
`;
  const r = compile({ fileName: "class.ts", text }, { arch: "x86_64" });
  assert.deepEqual(r.diagnostics, []);
  const raw = readBpfObject(r.object);
  assert.equal(parseBtf(raw.btf!).find("class", BtfKind.STRUCT)?.kind, BtfKind.STRUCT, "the object's BTF names the kernel's struct class");
  const results = [...resolveCore(raw, kernelBtf()).values()].flatMap((s) => [...s.values()]);
  assert.ok(results.length > 0 && results.every((c) => c.ok), results.map((c) => (c.ok ? "ok" : c.error)).join("; "));
  const missing = compile({ fileName: "class.ts", text: text.replace("class_ }", "class }") }, { arch: "x86_64" });
  assert.ok(missing.diagnostics.length > 0, "class itself is not a name a TypeScript import can take");
});

test("a map keyed by a kernel enum has that enum in BTF, enumerators and all, so its keys read by name (both backends)", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, async () => {
  const text = `import { begin, Count, RingBuf } from "tsbpf";
import { type sock_type, SOCK_DGRAM } from "tsbpf/kernel";
export const license = "GPL";
export const kinds = new Count<sock_type>(16);
interface Event { kind: sock_type }
export const events = new RingBuf<Event>(4096);
export const once = begin(() => {
  const t: sock_type = SOCK_DGRAM;
  kinds.increment(t);
  kinds.increment(9 as sock_type);
  events.output({ kind: t });
});
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const r = compile({ fileName: "kinds.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const btf = parseBtf(readBpfObject(r.object).btf!);
    const e = btf.findByName("sock_type", BtfKind.ENUM).find((t) => t.kind === BtfKind.ENUM && t.values.length > 0);
    assert.ok(e && e.kind === BtfKind.ENUM && e.values.some((v) => v.name === "SOCK_DGRAM" && v.value === 2), backend);
    const sim = await simulate({ fileName: "kinds.ts", text }, { backend });
    sim.begin();
    assert.deepEqual(sim.map("kinds").entries(), [["SOCK_DGRAM", 1n], [9, 1n]], backend);
    assert.deepEqual(sim.events("events"), [{ kind: "SOCK_DGRAM" }], backend);
  }
});

test("a parameter declared as a kernel enum is that enum in BTF, so --set and simulate()'s globals take an enumerator's name (both backends)", { skip: existsSync("/sys/kernel/btf/vmlinux") ? false : "no /sys/kernel/btf/vmlinux" }, async () => {
  const text = `import { begin, printf } from "tsbpf";
import type { sock_type } from "tsbpf/kernel";
export const license = "GPL";
let kind: sock_type = 1 as sock_type;
export const once = begin(() => printf("%d %s\\n", kind, kind));
`;
  for (const backend of ["own", "llvm"] as const) {
    if (backend === "llvm" && noLlvm) continue;
    const r = compile({ fileName: "param.ts", text }, { arch: "x86_64", backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const btf = parseBtf(readBpfObject(r.object).btf!);
    const v = btf.find("kind", BtfKind.VAR);
    assert.ok(v?.kind === BtfKind.VAR, backend);
    const t = btf.resolveType(v.type);
    assert.ok(t.kind === BtfKind.ENUM && t.name === "sock_type" && t.values.some((x) => x.name === "SOCK_RAW" && x.value === 3), `${backend}: ${btf.typeName(v.type)}`);
    const sim = await simulate({ fileName: "param.ts", text }, { backend, globals: { kind: "SOCK_RAW" } });
    sim.begin();
    assert.equal(sim.output(), "3 SOCK_RAW\n", backend);
  }
});
