// The loader's CO-RE resolution of tsbpf objects whose accesses walk members embedded by value and
// index arrays: access strings of several steps ("0:0:2" for sock.__sk_common.skc_family,
// "0:2:1" for task_struct.counts[1]) resolve against a target kernel whose layout differs from
// the compiling one at every level, and linking patches the instructions with the target's offsets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfBuilder, BtfIntEncoding, BtfKind, parseBtf, parseBtfExt, type Btf } from "../../compiler/btf/index.js";
import { readBpfObject } from "../../compiler/elf/index.js";
import { compile } from "../../compiler/index.js";
import { linkProgram, openObject, resolveCore } from "../../runtime/loader/index.js";
import { fixtureVmlinux } from "../support/fixture-kernel.js";

const PROBE = `import { kprobe, printk, type Ptr, type u32 } from "tsbpf";
import type { sock, task_struct } from "tsbpf/kernel";
export const license = "GPL";
export const p = kprobe("tcp_connect", (sk: Ptr<sock>, task: Ptr<task_struct>, i: u32) => {
  printk(\`\${sk.__sk_common.skc_family} \${task.comm} \${task.counts[1]} \${task.counts[i]}\`);
  return 0;
});
`;

/** A kernel unlike the compiling one: sock_common 8 bytes into sock, skc_family and the arrays elsewhere, more members before each. */
function movedKernel(): Btf {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const u16 = b.add({ kind: BtfKind.INT, name: "unsigned short", size: 2, encoding: 0, offset: 0, bits: 16 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const index = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  const common = b.add({ kind: BtfKind.STRUCT, name: "sock_common", size: 64, members: [
    { name: "skc_hash", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "skc_family", type: u16, bitOffset: 40 * 8, bitfieldSize: 0 },
  ] });
  b.add({ kind: BtfKind.STRUCT, name: "sock", size: 128, members: [
    { name: "sk_pad", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "__sk_common", type: common, bitOffset: 8 * 8, bitfieldSize: 0 },
  ] });
  b.add({ kind: BtfKind.STRUCT, name: "task_struct", size: 4096, members: [
    { name: "counts", type: b.add({ kind: BtfKind.ARRAY, name: "", type: int, indexType: index, nelems: 4 }), bitOffset: 2000 * 8, bitfieldSize: 0 },
    { name: "comm", type: b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: index, nelems: 16 }), bitOffset: 3000 * 8, bitfieldSize: 0 },
  ] });
  return parseBtf(b.toBytes());
}

function compiled(): Uint8Array {
  const r = compile({ fileName: "nested.ts", text: PROBE }, { arch: "x86_64", vmlinuxBtf: fixtureVmlinux() });
  assert.deepEqual(r.diagnostics, []);
  return r.object;
}

test("tsbpf writes multi-level access strings against local types holding only the members read", () => {
  const obj = readBpfObject(compiled());
  const local = parseBtf(obj.btf!);
  const records = parseBtfExt(obj.btfExt!, { btf: local }).coreRelos.flatMap((s) => s.records);
  const named = records.map((r) => `${local.typeName(r.typeId)} ${r.access}`);
  // Local sock holds only __sk_common, local sock_common only skc_family; task_struct holds comm and counts, by offset.
  assert.deepEqual(named, ["struct sock 0:0:0", "struct task_struct 0:0", "struct task_struct 0:1:1", "struct task_struct 0:1"]);
});

test("multi-level access strings resolve against a kernel whose layout differs at every level, and linking patches them", () => {
  const object = compiled();
  const target = movedKernel();
  const core = resolveCore(readBpfObject(object), target);
  const values = [...core.values()].flatMap((bySlot) => [...bySlot.values()].map((r) => (r.ok ? r.value : r.error)));
  assert.deepEqual(values, [8n + 40n, 3000n, 2000n + 4n, 2000n]);

  const spec = openObject(object, { name: "nested" });
  const linked = linkProgram(spec, spec.programs[0]!, core);
  const obj = readBpfObject(object);
  const slots = parseBtfExt(obj.btfExt!, { btf: parseBtf(obj.btf!) }).coreRelos.flatMap((s) => s.records.map((r) => r.insnOff / 8));
  assert.deepEqual(slots.map((slot) => linked.insns[slot]!.imm), [48, 3000, 2004, 2000]);
});

test("a target without a member on the chain poisons that read only", () => {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const common = b.add({ kind: BtfKind.STRUCT, name: "sock_common", size: 8, members: [{ name: "skc_hash", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: BtfKind.STRUCT, name: "sock", size: 16, members: [{ name: "__sk_common", type: common, bitOffset: 0, bitfieldSize: 0 }] });
  const core = resolveCore(readBpfObject(compiled()), parseBtf(b.toBytes()));
  const results = [...core.values()].flatMap((bySlot) => [...bySlot.values()]);
  assert.equal(results.length, 4);
  assert.ok(results.every((r) => !r.ok && r.poison), "skc_family is missing; task_struct is missing altogether");
  assert.match((results[0] as { error: string }).error, /skc_family/);
});
