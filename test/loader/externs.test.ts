// Externs without a kernel: what the loader plans for each `__kconfig` value, ksym and kfunc of clang-19 fixtures
// (the `.kconfig` map's layout and bytes, kallsyms addresses, vmlinux BTF ids, poisoned weak kfuncs), resolved
// against a made-up kernel (config text, release, kallsyms, a small BTF), the BTF handed to the kernel, the
// linked instructions, and the errors for what the kernel lacks; `tsbpf verify` and the simulator on kconfig reads.

import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { BtfBuilder, BtfFuncLinkage, BtfKind, BtfVarLinkage, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { Op, PseudoCall, PseudoLd, decode } from "../../compiler/isa/index.js";
import { FakeSys, MapFlag } from "../../runtime/sys/index.js";
import {
  ObjectError,
  POISON_KFUNC_BASE,
  kallsymsAddresses,
  kernelObjectBtf,
  kernelVersionCode,
  linkProgram,
  loadObject,
  openObject,
  resolveExterns,
  type ExternEnvironment,
  type ObjectSpec,
} from "../../runtime/loader/index.js";
import { simulate } from "../../runtime/test/index.js";
import { UNLINKAT_FORMAT } from "../sim/support.js";
import { compileC, fixture, needsClang } from "./support.js";

/** A kernel's BTF with task_struct, bpf_task_acquire/release (prototypes as `acquireParams` says) and a per-CPU int. */
function kernelTypes(acquireParams = 1): { btf: Btf; acquire: number; release: number; rcu: number; active: number } {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: 1, offset: 0, bits: 32 });
  const task = b.add({ kind: BtfKind.STRUCT, name: "task_struct", size: 8, members: [{ name: "tgid", type: int, bitOffset: 0, bitfieldSize: 0 }, { name: "pid", type: int, bitOffset: 32, bitfieldSize: 0 }] });
  const ptr = b.add({ kind: BtfKind.PTR, name: "", type: task });
  const params = Array.from({ length: acquireParams }, (_, i) => ({ name: `p${i}`, type: ptr }));
  const acquireProto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: ptr, params });
  const releaseProto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: 0, params: [{ name: "p", type: ptr }] });
  const voidProto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: 0, params: [] });
  const rcu = b.add({ kind: BtfKind.FUNC, name: "bpf_rcu_read_lock", type: voidProto, linkage: BtfFuncLinkage.STATIC });
  const acquire = b.add({ kind: BtfKind.FUNC, name: "bpf_task_acquire", type: acquireProto, linkage: BtfFuncLinkage.STATIC });
  const release = b.add({ kind: BtfKind.FUNC, name: "bpf_task_release", type: releaseProto, linkage: BtfFuncLinkage.STATIC });
  const active = b.add({ kind: BtfKind.VAR, name: "bpf_prog_active", type: int, linkage: BtfVarLinkage.GLOBAL_ALLOCATED });
  return { btf: parseBtf(b.toBytes()), acquire, release, rcu, active };
}

const CONFIG = ["# comment", "CONFIG_BPF_SYSCALL=y", "CONFIG_HZ=0x3e8", "CONFIG_BPF_JIT=m", 'CONFIG_LOCALVERSION="-a-very-long-local"', "# CONFIG_TSBPF_NO_SUCH_OPTION is not set", ""].join("\n");
const KALLSYMS = ["ffffffff816d2cd0 T do_unlinkat", "ffffffff814de370 T __x64_sys_bpf", "ffffffffc0001000 t helper_fn.llvm.123\t[mod]", ""].join("\n");

function kernel(overrides: Partial<ExternEnvironment> = {}, btf = kernelTypes().btf): ExternEnvironment {
  return {
    kconfig: () => ({ text: CONFIG, source: "test config" }),
    release: () => "5.10.300-test",
    kallsyms: (names) => kallsymsAddresses(KALLSYMS, names),
    vmlinux: () => btf,
    arch: "x64",
    ...overrides,
  };
}

const externsSpec = (): ObjectSpec => openObject(fixture("externs"), { name: "externs" });

describe("externs: the object model", needsClang, () => {
  it("classifies kconfig values, ksyms and kfuncs, and lays the .kconfig map out as libbpf does", () => {
    const spec = externsSpec();
    const plan = Object.fromEntries(spec.externs.map((e) => [e.name, e.kind === "kconfig" ? `${e.type}/${e.size}@${e.offset}${e.weak ? " weak" : ""}` : `${e.kind}${e.weak ? " weak" : ""}`]));
    // Largest alignment first, then smaller sizes, then names: 4-byte values, then bools, then the char array.
    assert.deepEqual(plan, {
      CONFIG_BPF_JIT: "tristate/4@0 weak",
      CONFIG_HZ: "int/4@4",
      CONFIG_TSBPF_NO_SUCH_OPTION: "int/4@8 weak",
      LINUX_KERNEL_VERSION: "int/4@12",
      CONFIG_BPF_SYSCALL: "bool/1@16",
      LINUX_HAS_SYSCALL_WRAPPER: "bool/1@17",
      CONFIG_LOCALVERSION: "string/16@18 weak",
      do_unlinkat: "ksym",
      bpf_task_acquire: "kfunc",
      bpf_task_release: "kfunc",
      bpf_tsbpf_no_such_kfunc: "kfunc weak",
      bpf_rcu_read_lock: "kfunc weak",
    });
    const kconfig = spec.maps.find((m) => m.name === ".kconfig")!;
    assert.equal(kconfig.kernelName, "externs.kconfig");
    assert.equal(kconfig.valueSize, 34);
    assert.equal(kconfig.flags, MapFlag.RDONLY_PROG);
    assert.equal(kconfig.freeze, true);
    assert.deepEqual(
      kconfig.variables.map((v) => `${v.name}@${v.offset}`),
      spec.externs.filter((e) => e.kind === "kconfig").map((e) => `${e.name}@${(e as { offset: number }).offset}`),
    );
  });

  it("resolves values from the config, the release, kallsyms and the kernel's BTF", () => {
    const spec = externsSpec();
    const { btf, acquire, release } = kernelTypes();
    const warnings: string[] = [];
    const r = resolveExterns(spec, kernel({}, btf), warnings);
    const v = Object.fromEntries([...r.values].map(([k, x]) => [k, x]));
    assert.deepEqual(v.LINUX_KERNEL_VERSION, { kind: "kconfig", offset: 12, value: 0x050affn, from: "kernel" }); // 5.10.300: patch clamped to 255
    assert.deepEqual(v.LINUX_HAS_SYSCALL_WRAPPER, { kind: "kconfig", offset: 17, value: 1n, from: "kernel" });
    assert.deepEqual(v.CONFIG_HZ, { kind: "kconfig", offset: 4, value: 1000n, from: "config" });
    assert.deepEqual(v.CONFIG_BPF_JIT, { kind: "kconfig", offset: 0, value: 2n, from: "config" }); // m is 2 for a tristate
    assert.deepEqual(v.CONFIG_TSBPF_NO_SUCH_OPTION, { kind: "kconfig", offset: 8, value: 0n, from: "default" });
    assert.deepEqual(v.CONFIG_LOCALVERSION, { kind: "kconfig", offset: 18, value: "-a-very-long-lo", from: "config" });
    assert.match(warnings.join("\n"), /CONFIG_LOCALVERSION is 18 characters .* cut short/);
    assert.deepEqual(v.do_unlinkat, { kind: "address", address: 0xffffffff816d2cd0n });
    assert.deepEqual(v.bpf_task_acquire, { kind: "kfunc", btfId: acquire });
    assert.deepEqual(v.bpf_task_release, { kind: "kfunc", btfId: release });
    const weak = spec.externs.findIndex((e) => e.name === "bpf_tsbpf_no_such_kfunc");
    assert.deepEqual(v.bpf_tsbpf_no_such_kfunc, { kind: "poison", helper: POISON_KFUNC_BASE + weak });
    const bytes = new DataView(r.kconfig!.buffer);
    assert.equal(r.kconfig!.length, 34);
    assert.deepEqual([bytes.getUint32(0, true), bytes.getUint32(4, true), bytes.getUint32(8, true), bytes.getUint32(12, true), r.kconfig![16], r.kconfig![17]], [2, 1000, 0, 0x050aff, 1, 1]);
    assert.equal(Buffer.from(r.kconfig!.subarray(18)).toString("latin1"), "-a-very-long-lo\0");
  });

  it("links kconfig reads to the .kconfig map, ksyms to addresses and kfuncs to BTF ids, poisoning the weak one", () => {
    const spec = externsSpec();
    const { btf, acquire, release, rcu } = kernelTypes();
    const resolved = resolveExterns(spec, kernel({}, btf));
    const linked = linkProgram(spec, spec.programs[0]!, undefined, resolved);
    const kconfig = spec.maps.findIndex((m) => m.name === ".kconfig");
    const offsets = linked.maps.filter((m) => m.map === kconfig).map((m) => m.offset);
    assert.deepEqual([...offsets].sort((a, b) => a - b), [0, 4, 8, 12, 16, 17, 18]);
    assert.ok(linked.maps.filter((m) => m.map === kconfig).every((m) => m.kind === "value"));
    const kfuncs = linked.insns.filter((i) => i.code === Op.CALL && i.src === PseudoCall.KFUNC);
    assert.deepEqual(kfuncs.map((i) => [i.imm, i.off]), [[acquire, 0], [release, 0]]);
    const poisoned = linked.insns.filter((i) => i.code === Op.CALL && i.imm >= POISON_KFUNC_BASE);
    assert.equal(poisoned.length, 1);
    assert.equal(poisoned[0]!.src, PseudoCall.HELPER);
    // bpf_ksym_exists: a resolved weak kfunc's address is its BTF id, a missing one's is 0.
    const byBtfId = linked.insns.filter((i) => i.code === Op.LDDW && i.src === PseudoLd.BTF_ID).map((i) => i.imm);
    assert.deepEqual(byBtfId, [rcu]);
    const at = linked.insns.findIndex((i, n) => i.code === Op.LDDW && i.src === PseudoLd.IMM64 && i.imm === (0x816d2cd0 | 0) && linked.insns[n + 1]!.imm === -1);
    assert.ok(at >= 0, "do_unlinkat's address in an LDDW");
    // Without resolutions, the ksyms and kfuncs cannot be linked.
    assert.throws(() => linkProgram(spec, spec.programs[0]!), /uses kfunc bpf_task_acquire, which must be resolved against the running kernel/);
  });

  it("a typed ksym is its VAR's BTF id in an LDDW marked BPF_PSEUDO_BTF_ID; a weak missing one is 0", () => {
    const spec = openObject(fixture("ksym-typed"), { name: "ksym" });
    const { btf, active } = kernelTypes();
    const resolved = resolveExterns(spec, kernel({}, btf));
    assert.deepEqual(resolved.values.get("bpf_prog_active"), { kind: "btf-var", btfId: active });
    assert.deepEqual(resolved.values.get("tsbpf_no_such_variable"), { kind: "address", address: 0n });
    const insns = linkProgram(spec, spec.programs[0]!, undefined, resolved).insns;
    const i = insns.findIndex((x) => x.code === Op.LDDW && x.src === PseudoLd.BTF_ID);
    assert.equal(insns[i]!.imm, active);
    assert.equal(insns[i + 1]!.imm, 0);
    assert.equal(resolved.kconfig, undefined);
    assert.equal(spec.maps.some((m) => m.name === ".kconfig"), false);
  });

  it("the BTF for the kernel: externs allocated at their offsets, kfuncs global, an int dummy_ksym added", () => {
    const spec = externsSpec();
    const before = parseBtf(spec.raw.btf!);
    const btf = parseBtf(kernelObjectBtf(spec)!);
    assert.equal(btf.typeCount, before.typeCount + 1); // the object has an int; only the dummy variable is new
    for (let id = 1; id < before.typeCount; id++) assert.equal(btf.nameOf(id), before.nameOf(id)); // string offsets kept
    const kconfig = btf.find(".kconfig", BtfKind.DATASEC)!;
    assert.ok(kconfig.kind === BtfKind.DATASEC);
    assert.equal(kconfig.size, 34);
    assert.deepEqual(
      kconfig.vars.map((v) => `${btf.nameOf(v.type)}@${v.offset}/${v.size}`),
      ["CONFIG_BPF_JIT@0/4", "CONFIG_HZ@4/4", "CONFIG_TSBPF_NO_SUCH_OPTION@8/4", "LINUX_KERNEL_VERSION@12/4", "CONFIG_BPF_SYSCALL@16/1", "LINUX_HAS_SYSCALL_WRAPPER@17/1", "CONFIG_LOCALVERSION@18/16"],
    );
    for (const v of kconfig.vars) assert.equal((btf.typeById(v.type) as { linkage: number }).linkage, BtfVarLinkage.GLOBAL_ALLOCATED);
    const ksyms = btf.find(".ksyms", BtfKind.DATASEC)!;
    assert.ok(ksyms.kind === BtfKind.DATASEC);
    assert.equal(ksyms.size, ksyms.vars.length * 4);
    assert.deepEqual(ksyms.vars.map((v) => [v.offset, v.size]), ksyms.vars.map((_, i) => [i * 4, 4]));
    const names = ksyms.vars.map((v) => btf.nameOf(v.type));
    assert.deepEqual(names.filter((n) => n !== "dummy_ksym"), ["do_unlinkat"]);
    const unlinkat = btf.find("do_unlinkat", BtfKind.VAR)!;
    assert.ok(unlinkat.kind === BtfKind.VAR && unlinkat.linkage === BtfVarLinkage.GLOBAL_ALLOCATED && btf.typeName(unlinkat.type) === "int");
    for (const name of ["bpf_task_acquire", "bpf_task_release", "bpf_tsbpf_no_such_kfunc"]) {
      const f = btf.find(name, BtfKind.FUNC)!;
      assert.ok(f.kind === BtfKind.FUNC && f.linkage === BtfFuncLinkage.GLOBAL, name);
    }
  });

  it("loads on FakeSys: the .kconfig map filled and frozen, kfunc calls in the program", () => {
    const sys = new FakeSys();
    const spec = externsSpec();
    const { btf } = kernelTypes();
    const loaded = loadObject(sys, spec, { externs: kernel({}, btf), targetBtf: btf });
    try {
      const kconfig = loaded.map(".kconfig");
      assert.equal(sys.mapInfo(kconfig.fd).name, "externs.kconfig");
      assert.throws(() => sys.mapUpdate(kconfig.fd, new Uint8Array(4), new Uint8Array(34)), /EPERM/);
      assert.equal(new DataView(loaded.variable("CONFIG_HZ").buffer).getUint32(0, true), 1000);
      assert.equal(new DataView(loaded.variable("LINUX_KERNEL_VERSION").buffer).getUint32(0, true), 0x050aff);
      const insns = decode(sys.program(loaded.program("on_unlinkat").fd)!.insns);
      assert.equal(insns.filter((i) => i.code === Op.CALL && i.src === PseudoCall.KFUNC).length, 2);
      assert.ok(insns.some((i) => i.code === Op.LDDW && i.src === PseudoLd.MAP_VALUE && i.imm === kconfig.fd));
      assert.match(loaded.warnings.join("\n"), /CONFIG_LOCALVERSION/);
    } finally {
      loaded.close();
    }
    assert.deepEqual(sys.leaks(), []);
  });

  it("what the kernel lacks: clear errors for non-weak externs, before any kernel object exists", () => {
    const sys = new FakeSys();
    const missing = openObject(fixture("externs-missing"), { name: "missing" });
    assert.throws(() => loadObject(sys, missing, { externs: kernel() }), (e: unknown) => e instanceof ObjectError && e.message === "CONFIG_TSBPF_NO_SUCH_OPTION is not set in the running kernel's config (test config); declare it __weak to default to 0");
    assert.throws(() => resolveExterns(missing, kernel({ kconfig: () => undefined })), /no \/proc\/config\.gz or \/boot\/config-RELEASE to read/);
    const nokfunc = openObject(fixture("kfunc-missing"), { name: "nokfunc" });
    assert.throws(() => loadObject(sys, nokfunc, { externs: kernel() }), (e: unknown) => e instanceof ObjectError && /^kfunc bpf_tsbpf_no_such_kfunc is not exported by the running kernel/.test(e.message));
    assert.deepEqual(sys.leaks(), []);
    const spec = externsSpec();
    assert.throws(() => resolveExterns(spec, kernel({ kallsyms: () => new Map() })), /ksym do_unlinkat is not in the running kernel's \/proc\/kallsyms \(which lists variables only with CONFIG_KALLSYMS_ALL\)/);
    assert.throws(() => resolveExterns(spec, kernel({ kallsyms: (n) => new Map([...n].map((x) => [x, [0n]])) })), /hides kernel addresses/);
    assert.throws(() => resolveExterns(spec, kernel({ kallsyms: (n) => new Map([...n].map((x) => [x, [1n, 2n]])) })), /ksym do_unlinkat is ambiguous/);
    const typed = openObject(fixture("ksym-typed"), { name: "ksym" });
    const bare = parseBtf(new BtfBuilder().toBytes());
    assert.throws(() => resolveExterns(typed, kernel({}, bare)), /^MissingKernelError: ksym bpf_prog_active is not a variable of the running kernel's BTF .*; declare it __weak to default to 0$/);
    // A kfunc whose kernel prototype differs from the declaration.
    assert.throws(() => resolveExterns(spec, kernel({}, kernelTypes(2).btf)), /kfunc bpf_task_acquire is declared as .*, which does not match the running kernel's/);
    // Config values the extern's type cannot hold.
    const config = (text: string) => kernel({ kconfig: () => ({ text: `${CONFIG}\n${text}\n`, source: "c" }) });
    assert.throws(() => resolveExterns(spec, config("CONFIG_HZ=y")), /CONFIG_HZ=y: a y\/m\/n value needs a bool, enum libbpf_tristate or char extern/);
    assert.throws(() => resolveExterns(spec, config("CONFIG_BPF_SYSCALL=1")), /a number needs an integer extern/);
    assert.throws(() => resolveExterns(spec, config("CONFIG_HZ=0x100000000")), /does not fit CONFIG_HZ's 4 bytes/);
    assert.throws(() => resolveExterns(spec, config('CONFIG_HZ="250"')), /a string value needs a char array extern/);
    assert.equal(resolveExterns(spec, config("CONFIG_HZ=-12")).values.get("CONFIG_HZ")?.kind, "kconfig");
    assert.equal(resolveExterns(spec, config("CONFIG_BPF_SYSCALL=m")).kconfig![16], 1); // a module counts as present
  });

  it("the LINUX_ values libbpf provides: by version, by the syscall wrapper's symbol", () => {
    const linux = (name: string) => ({ kind: "kconfig" as const, name, weak: false, type: "bool" as const, size: 1, align: 1, signed: false, offset: 0 });
    const raw = externsSpec().raw;
    const value = (name: string, env: Partial<ExternEnvironment>) => resolveExterns({ externs: [linux(name)], raw }, kernel(env)).kconfig![0];
    assert.equal(value("LINUX_HAS_BPF_COOKIE", { release: () => "5.14.21" }), 0);
    assert.equal(value("LINUX_HAS_BPF_COOKIE", { release: () => "5.15.0-rc1" }), 1);
    assert.equal(value("LINUX_HAS_SYSCALL_WRAPPER", {}), 1);
    assert.equal(value("LINUX_HAS_SYSCALL_WRAPPER", { arch: "arm64" }), 0); // no __arm64_sys_bpf in these kallsyms
  });

  it("a function, map or variable another object defines is refused as needing the objects linked first", () => {
    const uses: Record<string, [string, string]> = {
      function: ["extern int elsewhere(int x);", "return elsewhere(1);"],
      variable: ["extern int elsewhere;", "return elsewhere;"],
      map: ['extern struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u32); } elsewhere SEC(".maps");', "__u32 k = 0; return bpf_map_lookup_elem(&elsewhere, &k) != 0;"],
    };
    for (const [what, [declaration, body]] of Object.entries(uses)) {
      const path = compileC(`extern-${what}`, `#include "loader.h"\n${declaration}\nSEC("tracepoint/syscalls/sys_enter_getppid") int p(void *ctx) { ${body} }\nchar LICENSE[] SEC("license") = "GPL";\n`);
      const expected = `extern elsewhere is a ${what} another BPF object defines: link the objects into one first, as libbpf needs too (bpftool gen object linked.bpf.o this.bpf.o other.bpf.o); an extern of the kernel's is declared __kconfig or __ksym`;
      assert.throws(() => openObject(readFileSync(path), { name: what }), (e: unknown) => e instanceof ObjectError && e.message === expected, what);
    }
  });

  it("the simulator reads kconfig externs as 0, or as `globals` sets them", async () => {
    const formats = { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } };
    assert.equal((await simulate(fixture("externs-missing"), formats)).global("CONFIG_TSBPF_NO_SUCH_OPTION"), 0);
    const sim = await simulate(fixture("externs-missing"), { ...formats, globals: { CONFIG_TSBPF_NO_SUCH_OPTION: 7 } });
    assert.equal(sim.global("CONFIG_TSBPF_NO_SUCH_OPTION"), 7);
  });

  it("kernel versions and kallsyms lines", () => {
    assert.equal(kernelVersionCode("6.18.44-fc-v657"), 0x06122c);
    assert.equal(kernelVersionCode("4.19.999"), 0x0413ff);
    assert.equal(kernelVersionCode("6.1"), 0x060100);
    assert.throws(() => kernelVersionCode("unknown"), ObjectError);
    const found = kallsymsAddresses(KALLSYMS, new Set(["helper_fn", "do_unlinkat", "absent"]));
    assert.deepEqual(Object.fromEntries(found), { do_unlinkat: [0xffffffff816d2cd0n], helper_fn: [0xffffffffc0001000n] });
  });
});
