// CO-RE: the relocations clang-19 records for test/btf/fixtures/core.bpf.c, resolved against the
// running kernel's BTF, must give what a host C program compiled against bpftool's vmlinux.h
// computes with offsetof/sizeof (bitfield shifts come from bpftool's raw member offsets).

import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readBpfObject } from "../../compiler/elf/index.js";
import {
  BtfBuilder,
  BtfError,
  BtfIntEncoding,
  BtfKind,
  CoreReloKind,
  coreReloKindName,
  describeAccess,
  essentialName,
  parseAccessString,
  parseBtf,
  parseBtfExt,
  parseCoreSpec,
  resolveCoreRelo,
  type Btf,
} from "../../compiler/btf/index.js";
import {
  BPFTOOL,
  CLANG,
  VMLINUX,
  bpftoolRaw,
  compileBpf,
  missingBpftool,
  missingClang,
  missingVmlinux,
  mustRun,
  readBytes,
  removeDir,
  tempDir,
  vmlinuxBytes,
} from "./oracle.js";

const skip = { skip: missingVmlinux ?? missingClang ?? missingBpftool ?? false };

/** Host C expressions (against vmlinux.h) giving the value each relocation must resolve to. */
const HOST: Record<string, string> = {
  "FIELD_BYTE_OFFSET struct task_struct.pid": "offsetof(struct task_struct, pid)",
  "FIELD_BYTE_OFFSET struct task_struct.tgid": "offsetof(struct task_struct, tgid)",
  "FIELD_BYTE_OFFSET struct task_struct.comm[3]": "offsetof(struct task_struct, comm[3])",
  "FIELD_BYTE_OFFSET struct task_struct.real_parent": "offsetof(struct task_struct, real_parent)",
  "FIELD_BYTE_OFFSET struct task_struct.flags": "offsetof(struct task_struct, flags)",
  "FIELD_BYTE_SIZE struct task_struct.comm": "sizeof(((struct task_struct *)0)->comm)",
  "FIELD_EXISTS struct task_struct.no_such_field_in_kernel": "0",
  "FIELD_EXISTS struct task_struct.pid": "1",
  "FIELD_SIGNED struct task_struct.pid": "(__typeof__(((struct task_struct *)0)->pid))-1 < 0",
  "FIELD_SIGNED struct task_struct.flags": "(__typeof__(((struct task_struct *)0)->flags))-1 < 0",
  "FIELD_BYTE_OFFSET struct sock.__sk_common.skc_daddr": "offsetof(struct sock, __sk_common.skc_daddr)",
  "FIELD_BYTE_OFFSET struct sock.__sk_common.skc_rcv_saddr": "offsetof(struct sock, __sk_common.skc_rcv_saddr)",
  "FIELD_BYTE_OFFSET struct sock.__sk_common.skc_family": "offsetof(struct sock, __sk_common.skc_family)",
  "FIELD_BYTE_OFFSET struct sock.__sk_common.skc_dport": "offsetof(struct sock, __sk_common.skc_dport)",
  "FIELD_BYTE_OFFSET struct sock.sk_rcvbuf": "offsetof(struct sock, sk_rcvbuf)",
  "FIELD_BYTE_OFFSET struct filename.name": "offsetof(struct filename, name)",
  "FIELD_BYTE_OFFSET struct filename.uptr": "offsetof(struct filename, uptr)",
  "FIELD_BYTE_OFFSET struct filename.refcnt": "offsetof(struct filename, refcnt)",
  "FIELD_BYTE_OFFSET struct task_struct___flavour.tgid": "offsetof(struct task_struct, tgid)",
  "TYPE_EXISTS struct task_struct": "1",
  "TYPE_SIZE struct task_struct": "sizeof(struct task_struct)",
  "TYPE_SIZE struct filename": "sizeof(struct filename)",
  "TYPE_EXISTS struct tsbpf_missing_type": "0",
  "TYPE_SIZE struct tsbpf_missing_type": "0",
  "ENUMVAL_EXISTS enum bpf_map_type::BPF_MAP_TYPE_RINGBUF": "1",
  "ENUMVAL_VALUE enum bpf_map_type::BPF_MAP_TYPE_RINGBUF": "BPF_MAP_TYPE_RINGBUF",
  "ENUMVAL_EXISTS enum bpf_map_type::TSBPF_NO_SUCH_MAP_TYPE": "0",
  // Alignment and sizes of a few kernel types for Btf.alignOf/sizeOf.
  "alignOf struct sock": "_Alignof(struct sock)",
  "alignOf struct filename": "_Alignof(struct filename)",
  "alignOf struct task_struct": "_Alignof(struct task_struct)",
  "alignOf struct callback_head": "_Alignof(struct callback_head)",
  "sizeOf struct sock_common": "sizeof(struct sock_common)",
  "sizeOf struct sk_buff": "sizeof(struct sk_buff)",
};

/** Relocations that must fail, with the reason's wording. */
const FAILS: Record<string, RegExp> = {
  "FIELD_LSHIFT_U64 struct sock.sk_padding": /no field sk_padding in struct sock/,
  "FIELD_BYTE_OFFSET struct filename___bad.name": /field name of struct filename .* incompatible with local long/,
};

function hostValues(dir: string): Map<string, bigint> {
  const header = join(dir, "vmlinux.h");
  writeFileSync(header, mustRun(BPFTOOL!, ["btf", "dump", "file", VMLINUX, "format", "c"]));
  const keys = Object.keys(HOST);
  const src = [
    '#include "vmlinux.h"',
    "#define offsetof(T, m) __builtin_offsetof(T, m)",
    "int printf(const char *, ...);",
    "int main(void) {",
    ...keys.map((k) => `  printf("%lld\\n", (long long)(${HOST[k]}));`),
    "  return 0;",
    "}",
  ].join("\n");
  writeFileSync(join(dir, "host.c"), src);
  mustRun(CLANG!, ["-O0", "-w", "-o", join(dir, "host"), join(dir, "host.c")]);
  const out = mustRun(join(dir, "host"), []).trim().split("\n");
  return new Map(keys.map((k, i) => [k, BigInt(out[i]!)]));
}

/** libbpf's bitfield arithmetic for a 1-bit `unsigned int` member at `bit` (from bpftool's dump). */
function bitfield1(bit: number): { byteOff: number; lshift: number; rshift: number } {
  const byteOff = Math.floor(bit / 8 / 4) * 4;
  return { byteOff, lshift: 64 - (bit + 1 - byteOff * 8), rshift: 63 };
}

test("CO-RE relocations of a clang object resolve against vmlinux like host offsetof/sizeof", skip, () => {
  const dir = tempDir();
  try {
    const host = hostValues(dir);
    const raw = bpftoolRaw(VMLINUX);
    const taskId = [...raw].find(([, lines]) => lines[0]!.includes(" STRUCT 'task_struct' "))![0];
    const memberBit = (name: string): number => {
      const line = raw.get(taskId)!.find((l) => l.startsWith(`\t'${name}' `))!;
      return Number(/bits_offset=(\d+)/.exec(line)![1]);
    };
    const load = bitfield1(memberBit("sched_contributes_to_load"));

    const obj = readBpfObject(readBytes(compileBpf("core", dir)));
    const local = parseBtf(obj.btf!);
    const ext = parseBtfExt(obj.btfExt!, { btf: local });
    const vm = parseBtf(vmlinuxBytes());
    const localTask = local.find("task_struct", BtfKind.STRUCT)!.id;
    const expected = new Map<string, bigint>(host);
    expected.set("FIELD_BYTE_OFFSET struct task_struct.sched_contributes_to_load", BigInt(load.byteOff));
    expected.set("FIELD_LSHIFT_U64 struct task_struct.sched_contributes_to_load", BigInt(load.lshift));
    expected.set("FIELD_RSHIFT_U64 struct task_struct.sched_contributes_to_load", BigInt(load.rshift));
    expected.set("FIELD_BYTE_SIZE struct task_struct.sched_reset_on_fork", 4n);
    expected.set("TYPE_ID_LOCAL struct task_struct", BigInt(localTask));
    expected.set("TYPE_ID_TARGET struct task_struct", BigInt(taskId));

    const checked = new Set<string>();
    for (const sec of ext.coreRelos) {
      for (const r of sec.records) {
        const key = `${coreReloKindName(r.kind)} ${describeAccess(parseCoreSpec(local, r.typeId, r.access!, r.kind))}`;
        const res = resolveCoreRelo(local, { typeId: r.typeId, access: r.access!, kind: r.kind }, vm);
        if (FAILS[key]) {
          assert.equal(res.ok, false, key);
          assert.ok(!res.ok && res.poison, `${key} poisons`);
          assert.match((res as { error: string }).error, FAILS[key]!, key);
        } else {
          assert.ok(res.ok, `${key}: ${(res as { error?: string }).error}`);
          assert.ok(expected.has(key), `no expectation for ${key}`);
          assert.equal(res.value, expected.get(key), key);
        }
        checked.add(key);
      }
    }
    // Every relocation the fixture makes was seen, and every expectation was used.
    for (const k of [...expected.keys(), ...Object.keys(FAILS)]) if (!k.startsWith("alignOf") && !k.startsWith("sizeOf")) assert.ok(checked.has(k), `relocation ${k} present`);

    for (const name of ["sock", "filename", "task_struct", "callback_head"]) {
      assert.equal(BigInt(vm.alignOf(vm.find(name, BtfKind.STRUCT)!.id)), host.get(`alignOf struct ${name}`), `alignOf ${name}`);
    }
    for (const name of ["sock_common", "sk_buff"]) {
      assert.equal(BigInt(vm.sizeOf(vm.find(name, BtfKind.STRUCT)!.id)), host.get(`sizeOf struct ${name}`), `sizeOf ${name}`);
    }
  } finally {
    removeDir(dir);
  }
});

test("local values match what clang assumed for the object's own layout", skip, () => {
  const dir = tempDir();
  try {
    const obj = readBpfObject(readBytes(compileBpf("core", dir)));
    const local = parseBtf(obj.btf!);
    const ext = parseBtfExt(obj.btfExt!, { btf: local });
    // Resolving against the object's own BTF must give back the compiler's values (task_struct and
    // its ___flavour are both candidates there, so their layouts disagree: ambiguity is the right answer).
    let compared = 0;
    for (const r of ext.coreRelos[0]!.records) {
      const what = `${coreReloKindName(r.kind)} ${describeAccess(parseCoreSpec(local, r.typeId, r.access!, r.kind))}`;
      const res = resolveCoreRelo(local, { typeId: r.typeId, access: r.access!, kind: r.kind }, local);
      if (!res.ok) {
        assert.match(res.error, /ambiguous|no field sk_padding|incompatible/, what);
        continue;
      }
      if (res.localValue !== undefined && r.kind !== CoreReloKind.TYPE_ID_TARGET) {
        assert.equal(res.value, res.localValue, what);
        compared++;
      }
    }
    assert.ok(compared >= 15, `compared ${compared}`);
  } finally {
    removeDir(dir);
  }
});

function tinyBtf(): Btf {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  b.add({ kind: BtfKind.STRUCT, name: "", size: 4, members: [{ name: "x", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  b.add({ kind: BtfKind.STRUCT, name: "two", size: 8, members: [{ name: "a", type: int, bitOffset: 0, bitfieldSize: 0 }, { name: "b", type: int, bitOffset: 32, bitfieldSize: 0 }] });
  b.add({ kind: BtfKind.STRUCT, name: "two___v2", size: 8, members: [{ name: "b", type: int, bitOffset: 0, bitfieldSize: 0 }, { name: "a", type: int, bitOffset: 32, bitfieldSize: 0 }] });
  return parseBtf(b.toBytes());
}

test("access strings, essential names and malformed relocations", () => {
  assert.deepEqual(parseAccessString("0:1:2"), [0, 1, 2]);
  assert.deepEqual(parseAccessString("7"), [7]);
  for (const bad of ["", ":1", "1:", "a", "0::1", "-1", "0:1 "]) assert.throws(() => parseAccessString(bad), BtfError, bad);
  assert.equal(essentialName("task_struct___v2"), "task_struct");
  assert.equal(essentialName("task_struct"), "task_struct");
  assert.equal(essentialName("___x"), "___x");
  assert.equal(CoreReloKind.TYPE_MATCHES, 12);

  const btf = tinyBtf();
  const two = btf.find("two", BtfKind.STRUCT)!.id;
  const anon = two - 1;
  const r = (typeId: number, access: string, kind: number) => resolveCoreRelo(btf, { typeId, access, kind }, btf);
  assert.equal(r(two, "0:9", CoreReloKind.FIELD_BYTE_OFFSET).ok, false, "member index past the struct");
  assert.equal(r(two, "0:1", CoreReloKind.TYPE_SIZE).ok, false, "type relocation with a field path");
  assert.equal(r(anon, "0:0", CoreReloKind.FIELD_BYTE_OFFSET).ok, false, "anonymous root");
  assert.equal(r(two, "0:1", 99).ok, false, "unknown kind");
  // Two candidates (two and two___v2) that disagree are ambiguous; on the field both agree on, fine.
  const v2 = btf.find("two___v2", BtfKind.STRUCT)!.id;
  const amb = r(v2, "0:1", CoreReloKind.FIELD_BYTE_OFFSET);
  assert.equal(amb.ok, false);
  assert.match((amb as { error: string }).error, /ambiguous/);
  const size = r(v2, "0", CoreReloKind.TYPE_SIZE);
  assert.ok(size.ok && size.value === 8n && size.matched.length === 2, "flavours agree on the size");
  const matches = r(two, "0", CoreReloKind.TYPE_MATCHES);
  assert.ok(matches.ok && matches.value === 1n, "a type matches itself");
});
