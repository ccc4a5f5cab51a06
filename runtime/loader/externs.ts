// Externs: the `__kconfig` values, `__ksym` variables and kfuncs a libbpf-style object declares but does not define.
// Takes an object's undefined ELF symbols and its BTF (clang files each under a `.kconfig` or `.ksyms` DATASEC);
// gives `ExternSpec`s (pure: what each extern is, and for kconfig values their place in the `.kconfig` map, laid
// out as libbpf lays it out), and `resolveExterns` gives their values from an `ExternEnvironment`: the kernel's
// config, its release, /proc/kallsyms and vmlinux BTF (`hostExterns()` reads the running kernel's).

import { readFileSync } from "node:fs";
import { release as osRelease } from "node:os";
import { BtfIntEncoding, BtfKind } from "../../compiler/btf/types.js";
import { parseBtf, type Btf } from "../../compiler/btf/parse.js";
import { typesCompat } from "../../compiler/btf/core.js";
import type { BpfObject } from "../../compiler/elf/read.js";
import { STB } from "../../compiler/elf/types.js";
import { MissingKernelError, ObjectError } from "./errors.js";
import { kernelBtf } from "./core.js";

export const KCONFIG_SECTION = ".kconfig";
export const KSYMS_SECTION = ".ksyms";

/** How a kconfig value is stored: C `bool`, `enum libbpf_tristate`, `char`, an integer of 1/2/4/8 bytes, `char[N]`. */
export type KconfigType = "bool" | "tristate" | "char" | "int" | "string";

export interface KconfigExtern {
  kind: "kconfig";
  name: string;
  weak: boolean;
  type: KconfigType;
  size: number;
  align: number;
  /** Integers: whether the C type is signed (the range a config value must fit). */
  signed: boolean;
  /** Byte offset in the `.kconfig` map's value. */
  offset: number;
}

export interface KsymExtern {
  kind: "ksym";
  name: string;
  weak: boolean;
  /** The variable's type in the object's BTF (modifiers skipped); undefined for a typeless `extern const void x __ksym`. */
  typeId: number | undefined;
}

export interface KfuncExtern {
  kind: "kfunc";
  name: string;
  weak: boolean;
  /** The FUNC's id in the object's BTF. */
  funcId: number;
}

export type ExternSpec = KconfigExtern | KsymExtern | KfuncExtern;

/** Names libbpf provides itself rather than reading from the kernel's config. */
const LINUX_EXTERNS = new Set(["LINUX_KERNEL_VERSION", "LINUX_HAS_BPF_COOKIE", "LINUX_HAS_SYSCALL_WRAPPER"]);

/**
 * Every extern of the object, classified by the DATASEC clang put it in; kconfig values get their offsets in the
 * `.kconfig` map (sorted by alignment, largest first, then by size and name, each aligned: libbpf's layout).
 */
export function readExterns(raw: BpfObject): ExternSpec[] {
  if (raw.externs.length === 0) return [];
  const names = raw.externs.map((s) => s.name).join(", ");
  if (!raw.btf) throw new ObjectError(`the object uses externs (${names}) but has no .BTF section, which says what they are (compile with -g)`);
  const btf = parseBtf(raw.btf);
  const declared = new Map<string, { section: string; id: number }>();
  for (const t of btf.types()) {
    if (t.kind !== BtfKind.DATASEC || (t.name !== KCONFIG_SECTION && t.name !== KSYMS_SECTION)) continue;
    for (const v of t.vars) declared.set(btf.nameOf(v.type), { section: t.name, id: v.type });
  }
  const externs: ExternSpec[] = [];
  for (const sym of raw.externs) {
    const name = sym.name;
    const weak = sym.bind === STB.WEAK;
    const d = declared.get(name);
    if (!d) throw new ObjectError(unlinkedExtern(btf, name));
    if (d.section === KCONFIG_SECTION) {
      externs.push({ kind: "kconfig", name, weak, ...kconfigType(btf, d.id, name), offset: 0 });
      continue;
    }
    const t = btf.typeById(d.id);
    if (t.kind === BtfKind.FUNC) {
      externs.push({ kind: "kfunc", name, weak, funcId: d.id });
    } else if (t.kind === BtfKind.VAR) {
      const typeId = btf.resolve(t.type);
      externs.push({ kind: "ksym", name, weak, typeId: typeId === 0 ? undefined : typeId });
    } else {
      throw new ObjectError(`extern ${name}: the object's BTF describes it as a ${t.kind}, neither a variable nor a function`);
    }
  }
  const kconfig = externs.filter((e): e is KconfigExtern => e.kind === "kconfig");
  kconfig.sort((a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  for (const e of kconfig) {
    e.offset = Math.ceil(offset / e.align) * e.align;
    offset = e.offset + e.size;
  }
  return externs;
}

/**
 * Why an extern in neither `.kconfig` nor `.ksyms` cannot be loaded: a function, map or variable another BPF object
 * defines (clang leaves it for the linker), or one the BTF says nothing of.
 */
function unlinkedExtern(btf: Btf, name: string): string {
  const what = btf.findIdsByName(name, BtfKind.FUNC).length
    ? "a function"
    : [...btf.types()].some((t) => t.kind === BtfKind.DATASEC && t.name === ".maps" && t.vars.some((v) => btf.nameOf(v.type) === name))
      ? "a map"
      : btf.findIdsByName(name, BtfKind.VAR).length
        ? "a variable"
        : undefined;
  const kernel = "an extern of the kernel's is declared __kconfig or __ksym";
  if (!what) return `extern ${name} is neither __kconfig nor __ksym (the object's BTF has it in no .kconfig or .ksyms section)`;
  return `extern ${name} is ${what} another BPF object defines: link the objects into one first, as libbpf needs too (bpftool gen object linked.bpf.o this.bpf.o other.bpf.o); ${kernel}`;
}

/** Bytes the `.kconfig` map's value needs for the object's kconfig externs. */
export function kconfigSize(externs: readonly ExternSpec[]): number {
  return externs.reduce((end, e) => (e.kind === "kconfig" ? Math.max(end, e.offset + e.size) : end), 0);
}

function kconfigType(btf: Btf, varId: number, name: string): Pick<KconfigExtern, "type" | "size" | "align" | "signed"> {
  if (!name.startsWith("CONFIG_") && !LINUX_EXTERNS.has(name)) {
    throw new ObjectError(`__kconfig extern ${name} is unknown: kconfig externs are CONFIG_* values or one of ${[...LINUX_EXTERNS].join(", ")}`);
  }
  const v = btf.typeById(varId);
  if (v.kind !== BtfKind.VAR) throw new ObjectError(`__kconfig extern ${name} is not a variable`);
  const t = btf.resolveType(v.type);
  if (t.kind === BtfKind.INT) {
    if (t.size === 1 && t.encoding & BtfIntEncoding.BOOL) return { type: "bool", size: 1, align: 1, signed: false };
    if (t.size === 1 && (t.encoding & BtfIntEncoding.CHAR || t.name === "char")) return { type: "char", size: 1, align: 1, signed: false };
    if ([1, 2, 4, 8].includes(t.size)) return { type: "int", size: t.size, align: t.size, signed: (t.encoding & BtfIntEncoding.SIGNED) !== 0 };
  } else if ((t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) && t.name === "libbpf_tristate") {
    return { type: "tristate", size: t.size, align: t.size, signed: false };
  } else if (t.kind === BtfKind.ARRAY && t.nelems > 0) {
    const elem = btf.resolveType(t.type);
    if (elem.kind === BtfKind.INT && elem.size === 1) return { type: "string", size: t.nelems, align: 1, signed: false };
  }
  throw new ObjectError(`__kconfig extern ${name} has type ${btf.typeName(v.type)}; kconfig values are bool, enum libbpf_tristate, char, 1/2/4/8-byte integers or char arrays`);
}

// ---------------------------------------------------------------- the kernel they resolve against

/** What externs resolve against; `hostExterns()` gives the running kernel's. Each part is read only when needed. */
export interface ExternEnvironment {
  /** The kernel's config (the text of /proc/config.gz), or undefined when there is none; `source` names it in errors. */
  kconfig(): { text: string; source: string } | undefined;
  /** The kernel's release, as `uname -r` prints it. */
  release(): string;
  /** Addresses /proc/kallsyms gives each of `names` (empty for absent names). */
  kallsyms(names: ReadonlySet<string>): Map<string, bigint[]>;
  /** The kernel's BTF. */
  vmlinux(): Btf;
  /** Node's process.arch of the kernel's machine. */
  arch: string;
}

/** The running kernel: /proc/config.gz (else /boot/config-RELEASE), uname, /proc/kallsyms, /sys/kernel/btf/vmlinux. */
export function hostExterns(): ExternEnvironment {
  // Read once per load: ksyms and LINUX_HAS_SYSCALL_WRAPPER both look there (~150 ms a read).
  let kallsyms: string | undefined;
  return {
    kconfig() {
      try {
        // node:zlib only for objects with kconfig externs: loading it would cost every run's start-up.
        const { gunzipSync } = process.getBuiltinModule("node:zlib");
        return { text: gunzipSync(readFileSync("/proc/config.gz")).toString("latin1"), source: "/proc/config.gz" };
      } catch {
        const path = `/boot/config-${osRelease()}`;
        try {
          return { text: readFileSync(path, "latin1"), source: path };
        } catch {
          return undefined;
        }
      }
    },
    release: osRelease,
    kallsyms: (names) => kallsymsAddresses((kallsyms ??= readFileSync("/proc/kallsyms", "latin1")), names),
    vmlinux: () => kernelBtf(),
    arch: process.arch,
  };
}

/**
 * Addresses of `names` in /proc/kallsyms text ("ADDRESS TYPE NAME [MODULE]" lines). A name also matches its
 * `NAME.llvm.N` form, which LTO kernels give to promoted static symbols (libbpf matches them the same way).
 */
export function kallsymsAddresses(text: string, names: ReadonlySet<string>): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>();
  for (const line of text.split("\n")) {
    const first = line.indexOf(" ");
    const second = line.indexOf(" ", first + 1);
    if (first < 0 || second < 0) continue;
    const end = line.indexOf("\t", second + 1);
    let name = end < 0 ? line.slice(second + 1) : line.slice(second + 1, end);
    if (!names.has(name)) {
      const llvm = name.indexOf(".llvm.");
      if (llvm < 0 || !names.has((name = name.slice(0, llvm)))) continue;
    }
    const list = out.get(name) ?? [];
    list.push(BigInt(`0x${line.slice(0, first)}`));
    out.set(name, list);
  }
  return out;
}

// ---------------------------------------------------------------- resolution

/** What one extern became: a kconfig value, an address, a kernel BTF id, or a poisoned call (weak kfunc the kernel lacks). */
export type ExternValue =
  | { kind: "kconfig"; offset: number; value: bigint | string; from: "config" | "default" | "kernel" }
  /** Typeless ksyms, and weak typed ksyms the kernel lacks (address 0, as libbpf leaves them). */
  | { kind: "address"; address: bigint }
  /** A typed ksym: the VAR's id in the kernel's BTF (LDDW with BPF_PSEUDO_BTF_ID). */
  | { kind: "btf-var"; btfId: number }
  /** A kfunc: the FUNC's id in the kernel's BTF (CALL with BPF_PSEUDO_KFUNC_CALL). */
  | { kind: "kfunc"; btfId: number }
  /** A weak kfunc the kernel lacks: the call becomes one to helper POISON_KFUNC_BASE + index, refused if reachable. */
  | { kind: "poison"; helper: number };

export interface ResolvedExterns {
  /** The `.kconfig` map's value, or undefined when the object has no kconfig externs. */
  kconfig: Uint8Array | undefined;
  values: Map<string, ExternValue>;
}

import { POISON_KFUNC_BASE } from "../../compiler/isa/helpers.js";
export { POISON_KFUNC_BASE };

/** Resolves every extern against `env`; a non-weak extern the kernel lacks is an ObjectError naming it. */
export function resolveExterns(object: { externs: readonly ExternSpec[]; raw: BpfObject }, env: ExternEnvironment, warnings: string[] = []): ResolvedExterns {
  const { externs } = object;
  const values = new Map<string, ExternValue>();
  const kconfig = externs.some((e) => e.kind === "kconfig") ? new Uint8Array(kconfigSize(externs)) : undefined;
  let config: Map<string, string> | undefined;
  let configSource: string | undefined;
  let addresses: Map<string, bigint[]> | undefined;
  let local: Btf | undefined;
  externs.forEach((e, index) => {
    if (e.kind === "kconfig") {
      let raw: string | undefined;
      let from: "config" | "kernel" | "default" = "config";
      if (e.name.startsWith("LINUX_")) {
        raw = linuxValue(e.name, env);
        from = "kernel";
      } else {
        if (!config) {
          const c = env.kconfig();
          configSource = c?.source;
          config = c ? parseKconfig(c.text) : new Map();
        }
        raw = config.get(e.name);
      }
      if (raw === undefined) {
        if (!e.weak) {
          const where = configSource ? `the running kernel's config (${configSource})` : "the running kernel's config (no /proc/config.gz or /boot/config-RELEASE to read)";
          throw new MissingKernelError(`${e.name} is not set in ${where}; declare it __weak to default to 0`);
        }
        values.set(e.name, { kind: "kconfig", offset: e.offset, value: e.type === "string" ? "" : 0n, from: "default" });
        return;
      }
      const value = storeKconfig(e, raw, kconfig!, warnings);
      values.set(e.name, { kind: "kconfig", offset: e.offset, value, from });
      return;
    }
    if (e.kind === "ksym" && e.typeId === undefined) {
      addresses ??= env.kallsyms(new Set(externs.filter((x) => x.kind === "ksym" && x.typeId === undefined).map((x) => x.name)));
      const found = [...new Set(addresses.get(e.name) ?? [])];
      if (found.length > 1) throw new ObjectError(`ksym ${e.name} is ambiguous: /proc/kallsyms lists it at ${found.map((a) => `0x${a.toString(16)}`).join(", ")}`);
      if (found.length === 0) {
        if (!e.weak) throw new MissingKernelError(`ksym ${e.name} is not in the running kernel's /proc/kallsyms (which lists variables only with CONFIG_KALLSYMS_ALL); declare it __weak to default to 0`);
        values.set(e.name, { kind: "address", address: 0n });
        return;
      }
      if (found[0] === 0n) throw new MissingKernelError(`ksym ${e.name}: /proc/kallsyms hides kernel addresses (they read as 0); reading them needs root (CAP_SYSLOG) and kernel.kptr_restrict below 2`);
      values.set(e.name, { kind: "address", address: found[0]! });
      return;
    }
    // Typed ksyms and kfuncs: the kernel's BTF names them, and their types must match the object's.
    const target = env.vmlinux();
    local ??= parseBtf(object.raw.btf!);
    const kind = e.kind === "kfunc" ? BtfKind.FUNC : BtfKind.VAR;
    const id = target.findIdsByName(e.name, kind)[0];
    if (id === undefined) {
      if (!e.weak) {
        throw new MissingKernelError(
          e.kind === "kfunc"
            ? `kfunc ${e.name} is not exported by the running kernel (its BTF has no function ${e.name}; kfuncs of modules are not supported); declare it __weak to make calls to it fail only where they are reached`
            : `ksym ${e.name} is not a variable of the running kernel's BTF (which often describes only per-CPU variables); declare it __weak to default to 0`,
        );
      }
      values.set(e.name, e.kind === "kfunc" ? { kind: "poison", helper: POISON_KFUNC_BASE + index } : { kind: "address", address: 0n });
      return;
    }
    const ours = e.kind === "kfunc" ? (local.typeById(e.funcId) as { type: number }).type : e.typeId!;
    const theirs = target.resolve((target.typeById(id) as { type: number }).type);
    if (!typesCompat(local, local.resolve(ours), target, theirs)) {
      const what = e.kind === "kfunc" ? "kfunc" : "ksym";
      throw new ObjectError(`${what} ${e.name} is declared as ${local.typeName(ours)}, which does not match the running kernel's ${target.typeName(theirs)}`);
    }
    values.set(e.name, e.kind === "kfunc" ? { kind: "kfunc", btfId: id } : { kind: "btf-var", btfId: id });
  });
  return { kconfig, values };
}

/** CONFIG_NAME=value lines; comments ("# CONFIG_X is not set") and blank lines are skipped. */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** KERNEL_VERSION(a, b, c) of a release ("6.18.44-foo"), c clamped to 255 as the kernel's macro does. */
export function kernelVersionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) throw new ObjectError(`LINUX_KERNEL_VERSION: cannot read a version from the kernel release "${release}"`);
  return Number(m[1]) * 65536 + Number(m[2]) * 256 + Math.min(255, Number(m[3] ?? 0));
}

const SYSCALL_PREFIX: Record<string, string> = { x64: "__x64_sys_", arm64: "__arm64_sys_", s390x: "__s390x_sys_", riscv64: "__riscv_sys_" };

/** The values libbpf provides under LINUX_ names, as config text ("y", "n" or a number). */
function linuxValue(name: string, env: ExternEnvironment): string {
  switch (name) {
    case "LINUX_KERNEL_VERSION":
      return String(kernelVersionCode(env.release()));
    case "LINUX_HAS_BPF_COOKIE":
      // bpf_get_attach_cookie() came with Linux 5.15; deciding by version spares loading a probe program for it.
      return kernelVersionCode(env.release()) >= 0x050f00 ? "y" : "n";
    case "LINUX_HAS_SYSCALL_WRAPPER": {
      // Syscall entries are wrapped (taking pt_regs) exactly when the kernel's symbols carry the arch prefix
      // (__x64_sys_bpf); libbpf probes the same symbol by creating a kprobe on it, which needs kprobes, so
      // /proc/kallsyms is read instead.
      const prefix = SYSCALL_PREFIX[env.arch];
      if (!prefix) return "n";
      return (env.kallsyms(new Set([`${prefix}bpf`])).get(`${prefix}bpf`)?.length ?? 0) > 0 ? "y" : "n";
    }
  }
  throw new ObjectError(`__kconfig extern ${name} is unknown`);
}

/** Writes one config value into the map's bytes as the extern's type stores it; gives the value stored. */
function storeKconfig(e: KconfigExtern, raw: string, out: Uint8Array, warnings: string[]): bigint | string {
  const what = `${e.name}=${raw}`;
  if (raw === "y" || raw === "n" || raw === "m") {
    let v: number;
    if (e.type === "bool") v = raw === "n" ? 0 : 1; // a module counts as present
    else if (e.type === "tristate") v = raw === "y" ? 1 : raw === "m" ? 2 : 0;
    else if (e.type === "char") v = raw.charCodeAt(0);
    else throw new ObjectError(`${what}: a y/m/n value needs a bool, enum libbpf_tristate or char extern, and ${e.name} is ${e.type === "string" ? "a char array" : "an integer"}`);
    storeInt(out, e.offset, e.size, BigInt(v));
    return BigInt(v);
  }
  if (raw.startsWith('"')) {
    if (e.type !== "string") throw new ObjectError(`${what}: a string value needs a char array extern`);
    if (raw.length < 2 || !raw.endsWith('"')) throw new ObjectError(`${what}: the string is not closed by a quote`);
    const text = raw.slice(1, -1).replace(/\\(.)/g, "$1");
    let bytes = Buffer.from(text, "latin1");
    if (bytes.length > e.size - 1) {
      warnings.push(`${e.name} is ${bytes.length} characters in the kernel's config; the extern holds ${e.size - 1} and a NUL, so it was cut short`);
      bytes = bytes.subarray(0, e.size - 1);
    }
    out.set(bytes, e.offset);
    return bytes.toString("latin1");
  }
  const m = /^(-?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(raw);
  if (!m) throw new ObjectError(`${what}: the value is neither y/m/n, a number nor a quoted string`);
  if (e.type !== "int" && e.type !== "char") throw new ObjectError(`${what}: a number needs an integer extern, and ${e.name} is ${e.type === "string" ? "a char array" : `a ${e.type}`}`);
  const digits = m[2]!;
  const magnitude = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  const value = m[1] ? -magnitude : magnitude;
  const bits = BigInt(e.size * 8);
  const fits = e.signed ? value >= -(1n << (bits - 1n)) && value < 1n << (bits - 1n) : value >= 0n && value < 1n << bits;
  // libbpf lets any value into 8 bytes; a narrower one must fit its type.
  if (!fits && e.size < 8) throw new ObjectError(`${what}: the value does not fit ${e.name}'s ${e.size} byte${e.size === 1 ? "" : "s"}`);
  storeInt(out, e.offset, e.size, value);
  return value;
}

/** `value` as `size` little-endian bytes (BPF's byte order on every kernel tsbpf loads into) at `offset`. */
function storeInt(out: Uint8Array, offset: number, size: number, value: bigint): void {
  const unsigned = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) out[offset + i] = Number((unsigned >> BigInt(8 * i)) & 0xffn);
}
