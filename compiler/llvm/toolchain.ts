// Finding and running LLVM's BPF toolchain.
// Takes LLVM IR text and a CPU version; gives the object bytes `llc` or `clang` produced, or throws
// `LlvmToolchainError` (no suitable LLVM on the PATH: names the package to install) or
// `LlvmError` (LLVM refused the module: carries its messages).
//
// Discovery, in order: `llc-19` (with `opt-19` from the same llvm-19 package: LLVM 19 runs the BPF
// CO-RE pass, BPFAbstractMemberAccess, in the optimisation pipeline, not in llc's code generator),
// then `clang-19`, then unversioned `llc`+`opt` and `clang` when `--version` says LLVM 19 or later
// (older releases lack the BPF v4 instructions and emit different CO-RE records). The choice is
// cached per process; `TSBPF_LLVM=clang|llc` forces one of the two kinds.
//
// Invocation: `opt-19 -O2 -mtriple=bpfel -mcpu=vN` then `llc-19 -march=bpfel -mcpu=vN -filetype=obj`,
// or `clang-19 -O2 -target bpfel -mcpu=vN -c -x ir -`. Text goes in on standard input and the
// object comes back on standard output, so nothing touches the disk.

// node:child_process costs a command ~13 ms to load, and every compile imports this module (for its error
// class), so it is loaded when LLVM is first run.
const childProcess = (): typeof import("node:child_process") => process.getBuiltinModule("node:child_process");

export const LLVM_VERSION = 19;
export const INSTALL_HINT = `apt-get install llvm-${LLVM_VERSION}`;

/** No usable LLVM: the message says what was looked for and what to install. */
export class LlvmToolchainError extends Error {
  override name = "LlvmToolchainError";
}

/** LLVM rejected the module or crashed; `stderr` holds its own words. */
export class LlvmError extends Error {
  override name = "LlvmError";
  constructor(message: string, readonly stderr: string) {
    super(message);
  }
}

export type Toolchain =
  | { kind: "llc"; llc: string; opt: string; version: number }
  | { kind: "clang"; clang: string; version: number };

/** LLVM's major version from a tool's `--version`, or undefined when the tool does not run. */
function majorVersion(tool: string): number | undefined {
  const r = childProcess().spawnSync(tool, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  const m = /(?:LLVM|clang) version (\d+)/i.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

let cached: Toolchain | null | undefined;

/** The toolchain to use, or undefined when none fits. */
export function findToolchain(): Toolchain | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const force = forcedKind();
  const candidates: (() => Toolchain | undefined)[] = [];
  const llc = (suffix: string) => (): Toolchain | undefined => {
    const v = majorVersion(`llc${suffix}`);
    if (v === undefined || v < LLVM_VERSION) return undefined;
    const ov = majorVersion(`opt${suffix}`);
    return ov === v ? { kind: "llc", llc: `llc${suffix}`, opt: `opt${suffix}`, version: v } : undefined;
  };
  const clang = (suffix: string) => (): Toolchain | undefined => {
    const v = majorVersion(`clang${suffix}`);
    return v !== undefined && v >= LLVM_VERSION ? { kind: "clang", clang: `clang${suffix}`, version: v } : undefined;
  };
  if (force !== "clang") candidates.push(llc(`-${LLVM_VERSION}`));
  if (force !== "llc") candidates.push(clang(`-${LLVM_VERSION}`));
  if (force !== "clang") candidates.push(llc(""));
  if (force !== "llc") candidates.push(clang(""));
  for (const c of candidates) {
    const t = c();
    if (t) return (cached = t);
  }
  cached = null;
  return undefined;
}

/** The kind TSBPF_LLVM asks for, if it is set; a value other than llc or clang is an error rather than ignored. */
function forcedKind(): "llc" | "clang" | undefined {
  const force = process.env.TSBPF_LLVM;
  if (force === undefined || force === "" || force === "llc" || force === "clang") return force || undefined;
  throw new LlvmToolchainError(`TSBPF_LLVM takes llc or clang (the kind of LLVM tool to compile with), not ${JSON.stringify(force)}`);
}

/**
 * Which LLVM would compile (the tool and its whole `--version` line, "llc-19: Ubuntu LLVM version 19.1.7"),
 * for cache keys: an upgraded LLVM must not reuse objects the old one wrote. Undefined without a toolchain.
 */
export function toolchainIdentity(): string | undefined {
  const t = findToolchain();
  if (!t) return undefined;
  const tool = t.kind === "llc" ? t.llc : t.clang;
  const r = childProcess().spawnSync(tool, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const line = /^.*version.*$/im.exec(r.stdout ?? "")?.[0]?.trim() ?? `version ${t.version}`;
  return `${tool}: ${line}`;
}

/** Why the LLVM backend cannot run here, or undefined when it can (for skipping tests). */
export function missingLlvm(): string | undefined {
  return findToolchain() ? undefined : `needs llc-${LLVM_VERSION} or clang-${LLVM_VERSION} (${INSTALL_HINT})`;
}

function requireToolchain(): Toolchain {
  const t = findToolchain();
  if (!t) {
    throw new LlvmToolchainError(
      `the LLVM backend needs LLVM ${LLVM_VERSION} or later: no llc-${LLVM_VERSION} (with opt-${LLVM_VERSION}), clang-${LLVM_VERSION}, ` +
        `or unversioned llc/clang of that version on the PATH; install it with \`${INSTALL_HINT}\``,
    );
  }
  return t;
}

function run(tool: string, args: string[], input: Uint8Array | string): Buffer {
  const r = childProcess().spawnSync(tool, args, { input, maxBuffer: 256 << 20, timeout: 120_000 });
  if (r.error) throw new LlvmError(`${tool} failed to run: ${r.error.message}`, "");
  const stderr = r.stderr.toString("utf8");
  if (r.status !== 0) throw new LlvmError(`${tool} rejected the generated LLVM IR:\n${stderr.trim()}`, stderr);
  return r.stdout;
}

export interface LlvmCompileOptions {
  /** BPF CPU version: 3 by default, 4 when the module needs signed division. */
  cpu: 3 | 4;
}

/** LLVM IR text to a BPF ELF object (little-endian). */
export function llvmToObject(ir: string, options: LlvmCompileOptions): Uint8Array {
  const t = requireToolchain();
  const mcpu = `-mcpu=v${options.cpu}`;
  let out: Buffer;
  if (t.kind === "llc") {
    const bitcode = run(t.opt, ["-O2", "-mtriple=bpfel", mcpu, "-", "-o", "-"], ir);
    out = run(t.llc, ["-march=bpfel", mcpu, "-O2", "-filetype=obj", "-", "-o", "-"], bitcode);
  } else {
    out = run(t.clang, ["-O2", "-target", "bpfel", mcpu, "-Wno-override-module", "-c", "-x", "ir", "-", "-o", "-"], ir);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
