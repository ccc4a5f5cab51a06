// Bitfield members of kernel structs (task_struct's in_execve, sock's sk_no_check_tx): read as libbpf's
// BPF_CORE_READ_BITFIELD_PROBED reads them, the unit's byte offset and size and both shifts relocated (CO-RE), in both
// backends. Checked: btf/core.ts's arithmetic on a built blob (moved, signed, across a byte, a unit that must grow);
// the object's BTF describing each member as a bitfield; the relocations resolving against this kernel to what its
// BTF says; bpftool and our loader loading the objects; the values read on this kernel where they are known (an exec
// is in execve, a socket given SO_NO_CHECK has sk_no_check_tx set); and the simulator reading values a test placed,
// through a layout other than the one compiled against.

import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BtfBuilder, BtfIntEncoding, BtfKind, parseBtf, parseBtfExt, type Btf } from "../../compiler/btf/index.js";
import { CoreReloKind, bitfieldLoad, resolveCoreRelo, type CoreResult } from "../../compiler/btf/core.js";
import { compile, type CompileResult } from "../../compiler/index.js";
import { readBpfObject } from "../../compiler/elf/read.js";
import { AluOp, Op } from "../../compiler/isa/opcodes.js";
import { POISON_HELPER, Session, kernelBtf, patchCore, resolveCore } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasBtf = existsSync(VMLINUX) ? undefined : "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
const BACKENDS = ["own", "llvm"] as const;

/** A task_struct-like struct: `pid`, then the bitfields at `bits` (name -> [bit offset, width, signed]). */
function blob(bits: Record<string, [number, number, boolean]>, extra: { name: string; type: "u8" | "u64"; bitOffset: number; bits: number }[] = []): Btf {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const uint = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  const u8 = b.add({ kind: BtfKind.INT, name: "unsigned char", size: 1, encoding: 0, offset: 0, bits: 8 });
  const u64 = b.add({ kind: BtfKind.INT, name: "long long unsigned int", size: 8, encoding: 0, offset: 0, bits: 64 });
  const members = [
    { name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 },
    ...Object.entries(bits).map(([name, [bitOffset, width, signed]]) => ({ name, type: signed ? int : uint, bitOffset, bitfieldSize: width })),
    ...extra.map((m) => ({ name: m.name, type: m.type === "u8" ? u8 : u64, bitOffset: m.bitOffset, bitfieldSize: m.bits })),
  ];
  b.add({ kind: BtfKind.STRUCT, name: "task_struct", size: 64, members });
  return parseBtf(b.toBytes());
}

const values = (r: CoreResult): bigint | string => (r.ok ? r.value : r.error);

test("btf/core.ts gives libbpf's offset, size, signedness and shifts for bitfields that moved, across a byte, and in a unit that must grow", () => {
  const local = blob({ a: [32, 1, false], s: [33, 5, true] }, [{ name: "nib", type: "u8", bitOffset: 40, bits: 4 }]);
  // The target moved both: `s` (signed, 5 bits) now spans bits 102..106, across bytes 12 and 13; a u8 nibble at bits
  // 134..137 no byte holds, so its unit grows to 2 bytes, as libbpf's loop does.
  const target = blob({ s: [102, 5, true], a: [107, 1, false] }, [{ name: "nib", type: "u8", bitOffset: 134, bits: 4 }]);
  const rootId = local.findIdsByEssentialName("task_struct")[0]!;
  const relo = (member: number, kind: number) => values(resolveCoreRelo(local, { typeId: rootId, access: `0:${member}`, kind }, target));
  const all = (member: number) => [CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_BYTE_SIZE, CoreReloKind.FIELD_SIGNED, CoreReloKind.FIELD_LSHIFT_U64, CoreReloKind.FIELD_RSHIFT_U64].map((k) => relo(member, k));
  // a: bit 107 in the u32 at 12: 64 - (107 + 1 - 96) = 52 to the left, 63 to the right.
  assert.deepEqual(all(1), [12n, 4n, 0n, 52n, 63n]);
  // s: bits 102..106 in the u32 at 12: 53 left, 59 right (arithmetically: it is signed).
  assert.deepEqual(all(2), [12n, 4n, 1n, 53n, 59n]);
  // nib: bits 134..137 cross byte 16's end: the 2-byte unit at 16 holds them; 64 - (134 + 4 - 128) = 54, 60.
  assert.deepEqual(all(3), [16n, 2n, 0n, 54n, 60n]);
  // The same arithmetic the compiler uses for the local layout.
  assert.deepEqual(bitfieldLoad(134, 4, 1), { byteOffset: 16, byteSize: 2, lshift: 54, rshift: 60 });
  assert.deepEqual(bitfieldLoad(33, 5, 4), { byteOffset: 4, byteSize: 4, lshift: 58, rshift: 59 });
  assert.equal(bitfieldLoad(60, 8, 8), undefined, "bits 60..67 are in no aligned 8-byte unit");
  // The right shift says whether the target's member is signed, for the loader's check of the shift's kind.
  const rshift = resolveCoreRelo(local, { typeId: rootId, access: "0:2", kind: CoreReloKind.FIELD_RSHIFT_U64 }, target);
  assert.ok(rshift.ok && rshift.fieldSigned === true);
});

test("the loader refuses a right shift of the wrong kind for the kernel's member: the value would not be what the object means", () => {
  const shift = (op: number) => [{ code: 0x07 | op, dst: 1, src: 0, off: 0, imm: 63 }];
  const result = (fieldSigned: boolean): CoreResult => ({ ok: true, kind: CoreReloKind.FIELD_RSHIFT_U64, value: 59n, localValue: 63n, targetId: 1, matched: [1], fieldSigned });
  const logical = shift(AluOp.RSH);
  assert.equal(patchCore(logical, 0, result(false), "p+0"), undefined);
  assert.equal(logical[0]!.imm, 59);
  const wrong = shift(AluOp.RSH);
  assert.match(patchCore(wrong, 0, result(true), "p+0")!, /the bitfield is signed in the kernel but unsigned in the object/);
  assert.deepEqual([wrong[0]!.code, wrong[0]!.imm], [Op.CALL, POISON_HELPER]);
  const arithmetic = shift(AluOp.ARSH);
  assert.equal(patchCore(arithmetic, 0, result(true), "p+0"), undefined);
  assert.match(patchCore(shift(AluOp.ARSH), 0, result(false), "p+0")!, /unsigned in the kernel but signed/);
});

const PROBE = `import { rawTracepoint, printf, pidTgid, targetPid } from "tsbpf";
export const license = "GPL";
export const exec = rawTracepoint("sched_process_exec", (task) => {
  if (task.tgid !== targetPid()) return;
  printf("exec in_execve=%d in_iowait=%d parent_in_execve=%d reset_on_fork=%d\\n", task.in_execve, task.in_iowait, task.real_parent.in_execve, task.sched_reset_on_fork);
});
export const listen = rawTracepoint("inet_sock_set_state", (sk, oldState, newState) => {
  if (pidTgid() >> 32 !== targetPid() || newState !== 10) return;
  printf("listen no_check_tx=%d kern_sock=%d no_check_rx=%d\\n", sk.sk_no_check_tx, sk.sk_kern_sock, sk.sk_no_check_rx);
});
`;

/** The members, in `struct`'s BTF, that the object's relocations name, with what each kind resolved to. */
function relocations(r: CompileResult, target: Btf): Map<string, Map<number, bigint>> {
  const raw = readBpfObject(r.object);
  const local = parseBtf(raw.btf!);
  const out = new Map<string, Map<number, bigint>>();
  for (const section of parseBtfExt(raw.btfExt!, { btf: local }).coreRelos) {
    for (const rec of section.records) {
      const access = rec.access ?? local.stringAt(rec.accessStrOff);
      const steps = access.split(":").map(Number);
      let id = rec.typeId;
      let name = local.typeById(id).name;
      for (const step of steps.slice(1)) {
        const t = local.typeById(local.resolve(id)) as { members: { name: string; type: number }[] };
        name += `.${t.members[step]!.name}`;
        id = t.members[step]!.type;
      }
      const res = resolveCoreRelo(local, { typeId: rec.typeId, access, kind: rec.kind }, target);
      assert.ok(res.ok, `${name} kind ${rec.kind}: ${values(res)}`);
      if (!out.has(name)) out.set(name, new Map());
      out.get(name)!.set(rec.kind, res.value);
    }
  }
  return out;
}

/** What libbpf computes for `struct.member` from the kernel's BTF directly: [byte offset, size, lshift, rshift]. */
function expected(btf: Btf, struct: string, member: string): bigint[] {
  const found = btf.findMember(btf.findIdsByEssentialName(struct).find((id) => btf.typeById(id).kind === BtfKind.STRUCT)!, member)!;
  const load = bitfieldLoad(found.bitOffset, found.member.bitfieldSize, btf.sizeOf(btf.resolve(found.member.type)))!;
  assert.ok(found.member.bitfieldSize > 0, `${struct}.${member} is a bitfield here`);
  return [load.byteOffset, load.byteSize, load.lshift, load.rshift].map(BigInt);
}

describe("bitfields of this kernel's structs", { skip: hasBtf }, () => {
  for (const backend of BACKENDS) {
    it(`${backend}: the object's BTF declares them as bitfields, and the four relocations of each resolve to what the kernel's BTF says`, () => {
      const r = compile({ fileName: "bits.ts", text: PROBE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, []);
      const local = parseBtf(readBpfObject(r.object).btf!);
      const task = local.typeById(local.findIdsByEssentialName("task_struct").find((id) => local.typeById(id).kind === BtfKind.STRUCT)!);
      assert.ok(task.kind === BtfKind.STRUCT && task.kindFlag, "task_struct has kind_flag set");
      const inExecve = task.members.find((m) => m.name === "in_execve")!;
      assert.equal(inExecve.bitfieldSize, 1);
      const vmlinux = kernelBtf();
      const kernelMember = vmlinux.findMember(vmlinux.findIdsByEssentialName("task_struct").find((id) => vmlinux.typeById(id).kind === BtfKind.STRUCT)!, "in_execve")!;
      assert.equal(inExecve.bitOffset, kernelMember.bitOffset, "at the compiling kernel's bit offset");
      const got = relocations(r, vmlinux);
      const kinds = [CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_BYTE_SIZE, CoreReloKind.FIELD_LSHIFT_U64, CoreReloKind.FIELD_RSHIFT_U64];
      for (const [struct, member] of [["task_struct", "in_execve"], ["task_struct", "in_iowait"], ["task_struct", "sched_reset_on_fork"], ["sock", "sk_no_check_tx"], ["sock", "sk_kern_sock"], ["sock", "sk_no_check_rx"]] as const) {
        const at = got.get(`${struct}.${member}`);
        assert.ok(at, `${struct}.${member} is relocated`);
        assert.deepEqual(kinds.map((k) => at.get(k)), expected(vmlinux, struct, member), `${backend} ${struct}.${member}`);
      }
    });
  }
});

const noKernel = hasBtf ?? missingRoot() ?? missingBpf(openSys());

describe("bitfields read on this kernel", { skip: noKernel }, () => {
  for (const backend of BACKENDS) {
    it(`${backend}: bpftool and our loader load the object`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-bitfields-"));
      const pin = `/sys/fs/bpf/tsbpf-bitfields-${process.pid}`;
      try {
        const r = compile({ fileName: "bits.ts", text: PROBE }, { arch: "x86_64", backend });
        const file = join(dir, "bits.o");
        writeFileSync(file, r.object);
        const bpftool = spawnSync("bpftool", ["prog", "loadall", file, pin], { encoding: "utf8" });
        if (bpftool.error === undefined) assert.equal(bpftool.status, 0, bpftool.stderr);
        const session = new Session(openSys());
        try {
          const obj = session.loadFile(file);
          assert.deepEqual([...obj.programs.keys()].sort(), ["exec", "listen"]);
        } finally {
          await session.close();
        }
      } finally {
        rmSync(pin, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`${backend}: an exec is in execve and its parent is not; a socket given SO_NO_CHECK has sk_no_check_tx set`, () => {
      const dir = mkdtempSync(join(tmpdir(), "tsbpf-bitfields-run-"));
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      try {
        const file = join(dir, "bits.ts");
        writeFileSync(file, PROBE);
        const exec = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--backend", backend, "-c", "/bin/true"], { encoding: "utf8", env, timeout: 60_000 });
        assert.equal(exec.status, 0, exec.stderr);
        assert.match(exec.stdout, /^exec in_execve=1 in_iowait=0 parent_in_execve=0 reset_on_fork=0$/m);
        // SO_NO_CHECK (11) sets sk_no_check_tx on any socket; a user's socket is not a kernel one.
        const listen = `/usr/bin/python3 -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, 11, 1); s.bind(('127.0.0.1', 0)); s.listen()"`;
        const sock = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--backend", backend, "-c", listen], { encoding: "utf8", env, timeout: 60_000 });
        assert.equal(sock.status, 0, sock.stderr);
        assert.match(sock.stdout, /^listen no_check_tx=1 kern_sock=0 no_check_rx=0$/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** A kernel BTF of one task_struct: `pid`, then bitfields where `at` says (in_execve: 1 bit; nice_bits: a signed int:5). */
function kernelBlob(dir: string, name: string, at: { in_execve: number; nice_bits: number }): string {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const uint = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  b.add({ kind: BtfKind.STRUCT, name: "task_struct", size: 32, members: [
    { name: "pid", type: int, bitOffset: 0, bitfieldSize: 0 },
    { name: "in_execve", type: uint, bitOffset: at.in_execve, bitfieldSize: 1 },
    { name: "nice_bits", type: int, bitOffset: at.nice_bits, bitfieldSize: 5 },
  ] });
  const path = join(dir, name);
  writeFileSync(path, b.toBytes());
  return path;
}

for (const backend of BACKENDS) {
  test(`${backend}: the simulator reads bitfields a test placed with alloc(), through a kernel layout other than the one compiled against`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bitfields-sim-"));
    try {
      // Compiled where both sit in the word at 4; run where nice_bits spans bytes 13 and 14 and in_execve is at bit 127.
      const compiled = kernelBlob(dir, "compiled.btf", { in_execve: 35, nice_bits: 38 });
      const running = kernelBlob(dir, "running.btf", { in_execve: 127, nice_bits: 110 });
      const text = `import { kprobe, type Ptr, type i64 } from "tsbpf";
import type { task_struct } from "tsbpf/kernel";
export const license = "GPL";
export const nice = kprobe("f", (task: Ptr<task_struct>): i64 => task.nice_bits);
export const execve = kprobe("g", (task: Ptr<task_struct>) => task.in_execve * 100 + task.pid);
`;
      const r = compile({ fileName: "sim.ts", text }, { arch: "x86_64", backend, vmlinuxBtf: compiled });
      assert.deepEqual(r.diagnostics, []);
      const sim = await simulate(r.object, { btf: running });
      for (const [nice, execve, pid] of [[-3, 1, 7], [15, 0, 9], [-16, 1, 0]] as const) {
        const task = sim.kernel.alloc("task_struct", { pid, in_execve: execve, nice_bits: nice });
        assert.equal(BigInt.asIntN(64, sim.kprobe("f", { args: [task] }).r0), BigInt(nice), `nice_bits ${nice}`);
        assert.equal(sim.kprobe("g", { args: [task] }).r0, BigInt(execve * 100 + pid), `in_execve ${execve}`);
        assert.deepEqual(task.read(), { pid, in_execve: execve, nice_bits: nice });
      }
      // A bitfield is a value, not a place: it has no address to point at.
      assert.throws(() => sim.kernel.alloc("task_struct").field("nice_bits"), /nice_bits is a bitfield and has no address/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
