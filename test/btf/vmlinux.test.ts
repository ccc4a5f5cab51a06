// Parsing the running kernel's BTF: every type against bpftool's raw dump, a sample of ids across
// all kinds in detail, name lookup, resolution, sizes, alignment, member lookup and C names.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfKind, BtfError, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { VMLINUX, bpftoolFormat, bpftoolRaw, missingBpftool, missingVmlinux, vmlinuxBytes } from "./oracle.js";

const skip = { skip: missingVmlinux ?? missingBpftool ?? false };

let cached: Btf | undefined;
const vm = (): Btf => (cached ??= parseBtf(vmlinuxBytes()));

test("vmlinux parses; the time is reported", skip, () => {
  const bytes = vmlinuxBytes();
  const t0 = performance.now();
  const btf = parseBtf(bytes);
  const t1 = performance.now();
  btf.findIdsByName("task_struct");
  const t2 = performance.now();
  console.log(`# vmlinux: ${btf.typeCount - 1} types, parse ${(t1 - t0).toFixed(1)} ms, first name lookup ${(t2 - t1).toFixed(1)} ms`);
  assert.ok(btf.typeCount > 1000, "btf.typeCount > 1000");
  assert.equal(btf.littleEndian, true);
});

test("every vmlinux type matches bpftool's raw dump", skip, () => {
  const raw = bpftoolRaw(VMLINUX);
  const btf = vm();
  assert.equal(btf.typeCount - 1, raw.size, "type count");
  let mismatches = 0;
  for (let id = 1; id < btf.typeCount; id++) {
    const ours = bpftoolFormat(btf, btf.typeById(id));
    const theirs = raw.get(id)!;
    if (ours.join("\n") !== theirs.join("\n")) {
      if (mismatches++ < 5) assert.deepEqual(ours, theirs, `type [${id}]`);
    }
  }
  assert.equal(mismatches, 0);
});

test("a sample across kinds decodes field by field", skip, () => {
  const raw = bpftoolRaw(VMLINUX);
  const btf = vm();
  const perKind = new Map<number, number>();
  // Every 301st id plus the first 20 of each kind: a few hundred records covering all kinds vmlinux has.
  for (let id = 1; id < btf.typeCount; id++) {
    const k = btf.kindOf(id);
    const n = perKind.get(k) ?? 0;
    if (id % 301 !== 0 && n >= 20) continue;
    perKind.set(k, n + 1);
    const t = btf.typeById(id);
    const head = raw.get(id)![0]!;
    const m = /^\[\d+\] (\w+) '([^']*)'/.exec(head)!;
    assert.equal(m[1], ["UNKN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64"][t.kind]);
    assert.equal(m[2], t.name || "(anon)");
    assert.equal(btf.nameOf(id), t.name);
    const size = /size=(\d+)/.exec(head);
    if (size && "size" in t) assert.equal(t.size, Number(size[1]), `size of [${id}]`);
    if (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) {
      const lines = raw.get(id)!.slice(1);
      assert.equal(lines.length, t.members.length);
      t.members.forEach((mem, i) => {
        const mm = /bits_offset=(\d+)/.exec(lines[i]!)!;
        assert.equal(mem.bitOffset, Number(mm[1]));
      });
    }
  }
  for (const k of [BtfKind.INT, BtfKind.PTR, BtfKind.ARRAY, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.FWD, BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.FUNC, BtfKind.FUNC_PROTO, BtfKind.VAR, BtfKind.DATASEC, BtfKind.ENUM64]) {
    assert.ok((perKind.get(k) ?? 0) > 0, `kind ${k} sampled`);
  }
});

test("name lookup finds well-known kernel types and functions", skip, () => {
  const btf = vm();
  const sock = btf.findByName("sock", BtfKind.STRUCT);
  assert.equal(sock.length, 1);
  assert.equal(sock[0]!.name, "sock");
  assert.equal(btf.findByName("filename", BtfKind.STRUCT).length, 1);
  for (const f of ["do_unlinkat", "tcp_retransmit_skb"]) {
    const fn = btf.find(f, BtfKind.FUNC);
    assert.ok(fn && fn.kind === BtfKind.FUNC, f);
    assert.equal(btf.kindOf(fn.type), BtfKind.FUNC_PROTO);
  }
  assert.deepEqual(btf.findByName("tsbpf_no_such_type_anywhere"), []);
  // A name shared by kinds: every match comes back, and the kind filter narrows it.
  const all = btf.findIdsByName("task_struct");
  assert.ok(all.length >= 1, "all.length >= 1");
  assert.ok(all.every((id) => btf.nameOf(id) === "task_struct"), "check");
  assert.throws(() => btf.findByName(""), BtfError);
});

test("resolve, sizeOf, alignOf and findMember", skip, () => {
  const btf = vm();
  const u32 = btf.find("u32", BtfKind.TYPEDEF)!;
  const r = btf.resolveType(u32.id);
  assert.equal(r.kind, BtfKind.INT);
  assert.equal(btf.sizeOf(u32.id), 4);
  assert.equal(btf.alignOf(u32.id), 4);
  const sock = btf.find("sock", BtfKind.STRUCT)!;
  assert.equal(btf.sizeOf(sock.id), (sock as { size: number }).size);
  assert.equal(btf.alignOf(sock.id), 8);
  // skc_daddr sits in an anonymous struct inside an anonymous union of sock_common.
  const common = btf.find("sock_common", BtfKind.STRUCT)!;
  const daddr = btf.findMember(common.id, "skc_daddr")!;
  assert.ok(daddr.path.length >= 3, "found through anonymous members");
  assert.equal(daddr.member.name, "skc_daddr");
  assert.equal(daddr.bitOffset, daddr.bitOffsets.reduce((a, b) => a + b, 0));
  assert.equal(btf.findMember(common.id, "no_such_member"), undefined);
  assert.throws(() => btf.sizeOf(btf.find("do_unlinkat", BtfKind.FUNC)!.id), BtfError);
  assert.throws(() => btf.typeById(btf.typeCount), BtfError);
  assert.throws(() => btf.typeById(-1), BtfError);
});

test("typeName gives C syntax", skip, () => {
  const btf = vm();
  const ptrTo = (id: number) => {
    for (let i = 1; i < btf.typeCount; i++) {
      if (btf.kindOf(i) === BtfKind.PTR && (btf.typeById(i) as { type: number }).type === id) return i;
    }
    return undefined;
  };
  const sock = btf.find("sock", BtfKind.STRUCT)!;
  assert.equal(btf.typeName(sock.id), "struct sock");
  assert.equal(btf.typeName(ptrTo(sock.id)!), "struct sock *");
  assert.equal(btf.typeName(0), "void");
  // task_struct::comm is char[16]; the kernel's tracepoint args have const char arrays too.
  const task = btf.find("task_struct", BtfKind.STRUCT)!;
  const comm = btf.findMember(task.id, "comm")!;
  assert.equal(btf.typeName(comm.member.type), "char[16]");
  let sawConstArray = false;
  for (let i = 1; i < btf.typeCount && !sawConstArray; i++) {
    const t = btf.typeById(i);
    if (t.kind === BtfKind.ARRAY && btf.kindOf(t.type) === BtfKind.CONST && btf.nameOf(btf.resolve(t.type)) === "char") {
      assert.equal(btf.typeName(i), `const char[${t.nelems}]`);
      sawConstArray = true;
    }
  }
  assert.ok(sawConstArray, "sawConstArray");
  const fn = btf.find("do_unlinkat", BtfKind.FUNC)!;
  assert.ok(fn.kind === BtfKind.FUNC, "fn.kind === BtfKind.FUNC");
  assert.match(btf.typeName(fn.id), /^int do_unlinkat\(int, struct filename \*\)$/);
  const fp = btf.typeById(fn.type);
  assert.equal(btf.typeName(fp.id), "int (int, struct filename *)");
  const pf = ptrTo(fp.id);
  if (pf) assert.equal(btf.typeName(pf), "int (*)(int, struct filename *)");
});
