// `tsbpf btf`: declarations for kernel types. Generated from the running kernel's BTF for filename,
// sock, task_struct (with tight limits) and sk_buff, they type-check with tsc against the project's
// own "tsbpf" declarations (/index.ts); a probe written against them type-checks there too, compiles
// with tsbpf's compiler and passes the kernel's verifier; every member the compiler declares has the
// same type in the declarations; every example type-checks against them and /index.ts with the strict
// options `tsc --init` writes, as a user's editor checks it. Also: unknown types and their suggestions, the CLI, and a golden
// declaration of a small synthetic struct (TSBPF_UPDATE_FIXTURES=1 rewrites it; review the diff).

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";
import { BtfBuilder, BtfIntEncoding, BtfKind, parseBtf, type Btf } from "../../compiler/btf/index.js";
import { UnknownKernelTypeError, declareKernelTypes, readBtf, suggestKernelTypes, type Declarations } from "../../compiler/declarations/index.js";
import { kernelStruct, type KernelMember, type KernelScalar } from "../../compiler/frontend/kernel-types.js";
import { compile, type CompileResult } from "../../compiler/index.js";
import { PseudoLd, encode } from "../../compiler/isa/index.js";
import { BpfLoadError, MapFlag, MapType, ProgType, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = dirname(fileURLToPath(import.meta.url));
const VMLINUX = "/sys/kernel/btf/vmlinux";
const noVmlinux = existsSync(VMLINUX) ? undefined : "no /sys/kernel/btf/vmlinux";
const ts = createRequire(import.meta.url)("typescript") as typeof TS;

let vmlinux: Btf | undefined;
const kernelBtf = (): Btf => (vmlinux ??= readBtf(VMLINUX));

const generated = new Map<string, Declarations>();
function declare(name: string): Declarations {
  let d = generated.get(name);
  if (!d) {
    // task_struct reaches most of the kernel: keep it to its direct references, and few of them.
    d = declareKernelTypes(kernelBtf(), [name], name === "task_struct" ? { maxDepth: 1, maxTypes: 40 } : {});
    generated.set(name, d);
  }
  return d;
}

// One host for every tsc run, so the default lib is parsed once.
const options: TS.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts"],
  types: [],
  // The lib is not ours to check; the generated declarations are written as .ts files, so they still are.
  skipLibCheck: true,
  paths: { tsbpf: [join(ROOT, "index.ts")] },
};
const realHost = ts.createCompilerHost(options);
const parsed = new Map<string, TS.SourceFile>();

/** tsc's errors for declaration files plus a probe, checked against the project's /index.ts as "tsbpf". */
function typeCheck(files: Record<string, string>, extra: TS.CompilerOptions = {}): string[] {
  const host: TS.CompilerHost = {
    ...realHost,
    fileExists: (f) => f in files || realHost.fileExists(f),
    readFile: (f) => files[f] ?? realHost.readFile(f),
    getSourceFile: (f, lang) => {
      if (f in files) return ts.createSourceFile(f, files[f]!, lang, true);
      let sf = parsed.get(f);
      if (!sf) {
        sf = realHost.getSourceFile(f, lang);
        if (sf) parsed.set(f, sf);
      }
      return sf;
    },
  };
  const program = ts.createProgram({ rootNames: Object.keys(files), options: { ...options, ...extra }, host });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}:${d.start ?? 0}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
}

const escape = (s: string) => s.replace(/[<>.]/g, (c) => `\\${c}`);

/**
 * The declarations' canonical type for a member as the compiler reads it: integers by width, pointers by
 * pointee (an untyped one loosely), structs embedded by value by name (one of anonymous type, which
 * the compiler names `outer__member`, is "other"), arrays as Str<N> or Arr<T, N>.
 */
function canonicalPattern(m: KernelScalar | KernelMember, outer = ""): string {
  if (m.kind === "int") return m.bool ? "boolean" : `${m.signed ? "i" : "u"}${m.size * 8}`;
  if (m.kind === "ptr") return m.pointee === "char" ? escape("Ptr<CString>") : m.pointee ? escape(`Ptr<${m.pointee}>`) : "Ptr(<\\.\\.\\.>)?";
  if (m.kind === "array") return m.string ? escape(`Str<${m.length}>`) : `Arr<${canonicalPattern(m.element)}, ${m.length}>`;
  if (m.kind === "struct") return m.struct === `${outer}__${m.name}` ? "other" : escape(m.struct);
  throw new Error(`unexpected member kind ${m.kind}`);
}

for (const name of ["filename", "sock", "task_struct", "sk_buff"]) {
  test(`declarations for ${name} type-check with tsc against the tsbpf module`, { skip: noVmlinux }, () => {
    const d = declare(name);
    assert.match(d.text, /^declare module "tsbpf\/kernel" \{$/m);
    assert.ok(d.expanded.includes(`struct ${name}`), `${name} is expanded`);
    const probe = `import type { ${name} } from "tsbpf/kernel";\nimport type { Ptr } from "tsbpf";\nexport type P = Ptr<${name}>;\n`;
    assert.deepEqual(typeCheck({ [join(ROOT, `__decl_${name}.ts`)]: d.text, [join(ROOT, "__probe.ts")]: probe }), []);
  });

  test(`${name}: members the compiler declares have the same types in the declarations`, { skip: noVmlinux }, () => {
    const d = declare(name);
    const declared = d.members.get(name)!;
    const struct = kernelStruct(kernelBtf(), name)!;
    assert.ok(struct.members.size > 0);
    for (const m of struct.members.values()) {
      const mine = declared.get(m.name);
      assert.ok(mine, `${name}.${m.name} is declared`);
      assert.ok(mine.readable, `${name}.${m.name} is marked readable`);
      assert.match(mine.canonical, new RegExp(`^${canonicalPattern(m, name)}$`), `${name}.${m.name}`);
    }
    for (const [member, info] of declared) if (info.readable) assert.ok(struct.members.has(member), `${name}.${member} is readable only if the compiler declares it`);
  });
}

test("the limits: task_struct at depth 1 with 40 types leaves the rest opaque", { skip: noVmlinux }, () => {
  const d = declare("task_struct");
  assert.ok(d.expanded.length <= 40, `${d.expanded.length} expanded`);
  assert.ok(d.opaque.length > 0);
  // Opaque types are empty interfaces, so Ptr<T> still names them.
  const opaque = d.opaque.find((n) => n.startsWith("struct "))!.slice("struct ".length);
  assert.match(d.text, new RegExp(`export interface ${opaque} \\{\\}`));
  assert.ok(d.text.length < 200_000, `${d.text.length} characters`);
});

const PROBE = `import { kprobe, printk, pidTgid, type i32, type Ptr } from "tsbpf";
import type { filename, sock, sk_buff, task_struct } from "tsbpf/kernel";

export const license = "GPL";

export const unlink = kprobe("do_unlinkat", (dfd: i32, name: Ptr<filename>) => {
  printk(\`unlink \${name.name} dfd \${dfd} pid \${pidTgid() >> 32}\`);
  return 0;
});

export const newTask = kprobe("wake_up_new_task", (task: Ptr<task_struct>) => {
  printk(\`new task \${task.pid} of \${task.real_parent.tgid}\`);
  return 0;
});

export const send = kprobe("tcp_sendmsg", (sk: Ptr<sock>) => {
  printk(\`sk mark \${sk.sk_mark} rcvbuf \${sk.sk_rcvbuf}\`);
  return 0;
});

export const freeSkb = kprobe("kfree_skb_reason", (skb: Ptr<sk_buff>) => {
  printk(\`skb len \${skb.len} mark \${skb.sk.sk_mark}\`);
  return 0;
});
`;

test("a probe written against the declarations type-checks with tsc and compiles with tsbpf", { skip: noVmlinux }, () => {
  const d = declareKernelTypes(kernelBtf(), ["filename", "sock", "sk_buff", "task_struct"], { maxDepth: 1, maxTypes: 60 });
  assert.deepEqual(typeCheck({ [join(ROOT, "__kernel.ts")]: d.text, [join(ROOT, "__probe.ts")]: PROBE }), []);
  // A member the declarations do not have is an error there too.
  const wrong = PROBE.replace("skb.len", "skb.length_");
  assert.ok(typeCheck({ [join(ROOT, "__kernel.ts")]: d.text, [join(ROOT, "__probe.ts")]: wrong }).some((e) => e.includes("length_")));
  const r = compile({ fileName: "kernel-types-probe.ts", text: PROBE });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.programs.map((p) => p.section), ["kprobe/do_unlinkat", "kprobe/wake_up_new_task", "kprobe/tcp_sendmsg", "kprobe/kfree_skb_reason"]);
});

test("tsbpf btf kprobe:FN kretprobe:FN rawtracepoint:NAME gives editors the handlers' parameter types", { skip: noVmlinux }, () => {
  const d = declareKernelTypes(kernelBtf(), ["kprobe:do_unlinkat", "kretprobe:do_unlinkat", "rawtracepoint:sched_switch"], { maxDepth: 0 });
  assert.match(d.text, /^interface TsbpfRawTracepoints \{$/m);
  const probe = (body: string) => `import { kprobe, kretprobe, rawTracepoint, type u32 } from "tsbpf";\nexport const license = "GPL";\n${body}\n`;
  const typed = probe(
    [
      'export const k = kprobe("do_unlinkat", (dfd, name) => { const file = name.name; return dfd; });',
      'export const r = kretprobe("do_unlinkat", (ret) => ret + 1);',
      'export const s = rawTracepoint("sched_switch", (preempt, prev, next, state) => { const s: u32 = state; return preempt ? prev.pid : next.pid + s; });',
    ].join("\n"),
  );
  const kernel = join(ROOT, "__kernel.ts");
  const file = join(ROOT, "__probe.ts");
  assert.deepEqual(typeCheck({ [kernel]: d.text, [file]: typed }), []);
  assert.deepEqual(compile({ fileName: "typed.ts", text: typed }, { arch: "x86_64" }).diagnostics, []);
  // The editor now finds what the compiler finds; without the declarations the parameters are `any`.
  const wrong = probe('export const s = rawTracepoint("sched_switch", (preempt, prev) => prev.nosuch);');
  assert.ok(typeCheck({ [kernel]: d.text, [file]: wrong }).some((e) => e.includes("nosuch")));
  assert.deepEqual(typeCheck({ [file]: wrong }), []);
  assert.throws(() => declareKernelTypes(kernelBtf(), ["rawtracepoint:sched_swich", "kprobe:tsbpf_no_such_function"]), {
    message: "the kernel's BTF has no raw tracepoint sched_swich (did you mean rawtracepoint:sched_switch?)\nthe kernel's BTF has no function tsbpf_no_such_function",
  });
});

/** Every example's and tool's probe file by path, and `tsbpf btf` declarations of the kernel types they import. */
function userProbes(): { probes: Record<string, string>; kernel: string } {
  const probes: Record<string, string> = {};
  const kernelTypes = new Set<string>();
  for (const dir of [join(ROOT, "examples"), join(ROOT, "tools")]) for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
    const text = readFileSync(join(dir, name), "utf8");
    probes[join(dir, name)] = text;
    // `import type { sock }`, and `import { type tcp_sock, TCP_CLOSE }` for enum constants too.
    for (const m of text.matchAll(/import (?:type )?\{([^}]*)\} from "tsbpf\/kernel"/g)) for (const t of m[1]!.split(",")) kernelTypes.add(t.trim().replace(/^type\s+/, ""));
    // Their kprobes' and raw tracepoints' handlers typed too, as `tsbpf btf kprobe:FN rawtracepoint:NAME` types them.
    for (const m of text.matchAll(/\b(kprobe|kretprobe|rawTracepoint)\("(\w+)"/g)) kernelTypes.add(`${m[1]!.toLowerCase()}:${m[2]}`);
  }
  return { probes, kernel: declareKernelTypes(kernelBtf(), [...kernelTypes]).text };
}

test("every example and tool type-checks as a user's editor sees it: /index.ts, tsbpf btf declarations, tsc --init's strict options", { skip: noVmlinux }, () => {
  const { probes, kernel } = userProbes();
  // Tracepoint records are open to editors: `ctx.filename` may be a string, a pointer or an array.
  assert.deepEqual(typeCheck({ ...probes, [join(ROOT, "__kernel.ts")]: kernel }, { noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true }), []);
});

// `npm install -D typescript` gives a probe project TypeScript 7 (the native compiler) since its release; tsbpf's own
// compiler reads probes with TypeScript 6's API, but editors and a user's tsc check them with whatever the project has.
const typescript7 = join(ROOT, "node_modules/typescript-7/bin/tsc");
test("every example and tool type-checks with TypeScript 7's tsc in a project as tsc --init sets it up", { skip: noVmlinux ?? (existsSync(typescript7) ? undefined : "no node_modules/typescript-7 (npm ci installs it)") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ts7-"));
  try {
    const { probes, kernel } = userProbes();
    for (const [path, text] of Object.entries(probes)) writeFileSync(join(dir, path.slice(ROOT.length).replaceAll("/", "-")), text);
    writeFileSync(join(dir, "kernel.d.ts"), kernel);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
    const init = spawnSync(process.execPath, [typescript7, "--init"], { cwd: dir, encoding: "utf8" });
    assert.equal(init.status, 0, init.stdout + init.stderr);
    // "tsbpf" is this tree's declarations, as an installed package's would be.
    writeFileSync(join(dir, "tsconfig.tsbpf.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { noEmit: true, paths: { tsbpf: [join(ROOT, "index.ts")] } }, include: ["*.ts"] }));
    const r = spawnSync(process.execPath, [typescript7, "-p", "tsconfig.tsbpf.json"], { cwd: dir, encoding: "utf8" });
    assert.match(spawnSync(process.execPath, [typescript7, "--version"], { encoding: "utf8" }).stdout, /^Version 7\./);
    assert.equal(r.stdout + r.stderr, "");
    assert.equal(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const sys = openSys();
const noKernel = noVmlinux ?? missingRoot() ?? missingBpf(sys);

/** BPF_PROG_LOAD of every program, with `.rodata` as a frozen array map (what libbpf does). */
function loadEach(r: CompileResult): void {
  const rodataFd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: r.rodata.length, maxEntries: 1, flags: MapFlag.RDONLY_PROG, name: ".rodata" });
  try {
    sys.mapUpdate(rodataFd, new Uint8Array(4), r.rodata);
    sys.mapFreeze(rodataFd);
    for (const p of r.programs) {
      const insns = p.insns.map((i) => ({ ...i }));
      for (const { insn } of p.relocations) {
        insns[insn + 1]!.imm = insns[insn]!.imm;
        insns[insn] = { ...insns[insn]!, src: PseudoLd.MAP_VALUE, imm: rodataFd };
      }
      assert.equal(p.kind, "kprobe");
      try {
        const { fd } = sys.progLoad({ type: ProgType.KPROBE, insns: encode(insns), license: r.license, name: p.name.slice(0, 15) });
        sys.close(fd);
      } catch (error) {
        if (error instanceof BpfLoadError) assert.fail(`${p.section} was rejected:\n${error.log}`);
        throw error;
      }
    }
  } finally {
    sys.close(rodataFd);
  }
}

test("that probe passes the kernel's verifier", { skip: noKernel }, () => {
  const r = compile({ fileName: "kernel-types-probe.ts", text: PROBE });
  assert.deepEqual(r.diagnostics, []);
  loadEach(r);
});

test("unknown types: an error naming each, with close matches", { skip: noVmlinux }, () => {
  assert.throws(
    () => declareKernelTypes(kernelBtf(), ["task_strct", "filename", "no_such_type_at_all"]),
    (e: unknown) => {
      assert.ok(e instanceof UnknownKernelTypeError);
      assert.deepEqual(e.missing.map((m) => m.name), ["task_strct", "no_such_type_at_all"]);
      assert.equal(e.missing[0]!.suggestions[0], "task_struct");
      assert.match(e.message, /no type task_strct \(did you mean task_struct/);
      return true;
    },
  );
  assert.ok(suggestKernelTypes(kernelBtf(), "sk_buf").includes("sk_buff"));
});

test("tsbpf btf sock task_struct: embedded structs by name and arrays as Str<N> / Arr<T, N>, readable as the compiler reads them", { skip: noVmlinux }, async () => {
  const { handler } = await import("../../cli/commands/btf.js");
  const { ExitCode } = await import("../../cli/exit-codes.js");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-"));
  try {
    const out = join(dir, "kernel.d.ts");
    assert.equal(await handler({ types: ["sock", "task_struct"], output: out, depth: 1 }), ExitCode.OK);
    const text = readFileSync(out, "utf8");
    assert.match(text, /export interface sock \{\n {4}\/\*\* `struct sock_common` at offset 0 \*\/\n {4}readonly __sk_common: sock_common;/);
    assert.match(text, /export interface sock_common \{/);
    assert.match(text, /\/\*\* `char\[16\]` at offset \d+ \*\/\n {4}readonly comm: Str<16>;/);
    assert.match(text, /\/\*\* `struct thread_info` at offset 0 \*\/\n {4}readonly thread_info: thread_info;/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sock = declare("sock").members.get("sock")!;
  assert.deepEqual(sock.get("__sk_common"), { type: "sock_common", canonical: "sock_common", readable: true });
  assert.deepEqual(declare("task_struct").members.get("task_struct")!.get("comm"), { type: "Str<16>", canonical: "Str<16>", readable: true });
});

test("tsbpf btf: declarations to a file; an unknown type is a usage error with suggestions", { skip: noVmlinux }, async () => {
  const { handler } = await import("../../cli/commands/btf.js");
  const { ExitCode, UserError } = await import("../../cli/exit-codes.js");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-btf-"));
  try {
    const out = join(dir, "kernel.d.ts");
    assert.equal(await handler({ types: ["filename"], output: out, depth: 0 }), ExitCode.OK);
    assert.match(readFileSync(out, "utf8"), /export interface filename \{\n[^}]*readonly name: Ptr<CString>;/);
    await assert.rejects(handler({ types: ["filenam"], output: out }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.exitCode, ExitCode.USAGE);
      assert.match(e.message, /the kernel's BTF has no type filenam \(did you mean filename/);
      return true;
    });
    await assert.rejects(handler({ types: ["filename"], btf: join(dir, "missing") }), /cannot read BTF from .*missing: no such file or directory \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A small BTF with the cases the mapping must handle. */
function syntheticBtf(): Btf {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const uint = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const uchar = b.add({ kind: BtfKind.INT, name: "unsigned char", size: 1, encoding: 0, offset: 0, bits: 8 });
  const u64 = b.add({ kind: BtfKind.INT, name: "long long unsigned int", size: 8, encoding: 0, offset: 0, bits: 64 });
  const idx = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  const u32 = b.add({ kind: BtfKind.TYPEDEF, name: "u32", type: uint });
  const pid = b.add({ kind: BtfKind.TYPEDEF, name: "pid_t", type: int });
  const cchar = b.add({ kind: BtfKind.CONST, name: "", type: char });
  const str = b.add({ kind: BtfKind.PTR, name: "", type: cchar });
  const comm = b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: idx, nelems: 16 });
  const mac = b.add({ kind: BtfKind.ARRAY, name: "", type: uchar, indexType: idx, nelems: 6 });
  const words = b.add({ kind: BtfKind.ARRAY, name: "", type: u32, indexType: idx, nelems: 4 });
  const state = b.add({ kind: BtfKind.ENUM, name: "state", size: 4, signed: false, values: [{ name: "IDLE", value: 0 }, { name: "BUSY", value: 1 }] });
  const stateStruct = b.add({ kind: BtfKind.STRUCT, name: "state", size: 4, members: [{ name: "v", type: int, bitOffset: 0, bitfieldSize: 0 }] });
  const kw = b.add({ kind: BtfKind.STRUCT, name: "new", size: 8, members: [{ name: "delete", type: u64, bitOffset: 0, bitfieldSize: 0 }] });
  const atomic = b.add({ kind: BtfKind.TYPEDEF, name: "atomic_t", type: b.add({ kind: BtfKind.STRUCT, name: "", size: 4, members: [{ name: "counter", type: int, bitOffset: 0, bitfieldSize: 0 }] }) });
  const fwd = b.add({ kind: BtfKind.FWD, name: "hidden", union: false });
  const demo = b.reserve();
  const proto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "", type: b.add({ kind: BtfKind.PTR, name: "", type: demo }) }] });
  const anon = b.add({
    kind: BtfKind.UNION,
    name: "",
    size: 8,
    members: [
      { name: "as_u64", type: u64, bitOffset: 0, bitfieldSize: 0 },
      { name: "as_words", type: b.add({ kind: BtfKind.ARRAY, name: "", type: u32, indexType: idx, nelems: 2 }), bitOffset: 0, bitfieldSize: 0 },
    ],
  });
  const inner = b.add({
    kind: BtfKind.STRUCT,
    name: "",
    size: 8,
    members: [
      { name: "lo", type: u32, bitOffset: 0, bitfieldSize: 0 },
      { name: "hi", type: u32, bitOffset: 32, bitfieldSize: 0 },
    ],
  });
  b.set(demo, {
    kind: BtfKind.STRUCT,
    name: "demo",
    size: 112,
    members: [
      { name: "pid", type: pid, bitOffset: 0, bitfieldSize: 0 },
      { name: "flags", type: u32, bitOffset: 32, bitfieldSize: 3 },
      { name: "mode", type: int, bitOffset: 35, bitfieldSize: 5 },
      { name: "name", type: str, bitOffset: 64, bitfieldSize: 0 },
      { name: "comm", type: comm, bitOffset: 128, bitfieldSize: 0 },
      { name: "mac", type: mac, bitOffset: 256, bitfieldSize: 0 },
      { name: "words", type: words, bitOffset: 320, bitfieldSize: 0 },
      { name: "", type: anon, bitOffset: 448, bitfieldSize: 0 },
      { name: "pair", type: inner, bitOffset: 512, bitfieldSize: 0 },
      { name: "st", type: state, bitOffset: 576, bitfieldSize: 0 },
      { name: "st_box", type: stateStruct, bitOffset: 608, bitfieldSize: 0 },
      { name: "kw", type: b.add({ kind: BtfKind.PTR, name: "", type: kw }), bitOffset: 640, bitfieldSize: 0 },
      { name: "refs", type: atomic, bitOffset: 704, bitfieldSize: 0 },
      { name: "secret", type: b.add({ kind: BtfKind.PTR, name: "", type: fwd }), bitOffset: 768, bitfieldSize: 0 },
      { name: "next", type: b.add({ kind: BtfKind.PTR, name: "", type: demo }), bitOffset: 832, bitfieldSize: 0 },
      { name: "callback", type: b.add({ kind: BtfKind.PTR, name: "", type: proto }), bitOffset: 896, bitfieldSize: 0 },
    ],
  });
  return parseBtf(b.toBytes());
}

test("golden: the declaration of a small struct", () => {
  const d = declareKernelTypes(syntheticBtf(), ["demo"], { source: "tsbpf btf demo (synthetic BTF)" });
  const golden = join(HERE, "demo.d.ts.golden");
  if (process.env.TSBPF_UPDATE_FIXTURES) writeFileSync(golden, d.text);
  assert.equal(d.text, readFileSync(golden, "utf8"));
  assert.deepEqual(typeCheck({ [join(ROOT, "__demo.ts")]: d.text, [join(ROOT, "__probe.ts")]: 'import type { demo, new_, enum_state, typedef_state } from "tsbpf/kernel";\nexport {};\n' }).filter((e) => !e.includes("typedef_state")), []);
});

test("enum constants are declared by name, as a probe imports them (TCP_ESTABLISHED)", () => {
  const d = declareKernelTypes(syntheticBtf(), ["demo", "BUSY"]);
  assert.match(d.text, /\/\*\* BUSY = 1, of enum state: folded at compile time \*\/\n  export const BUSY: 1;\n\}\n$/);
  const probe = 'import { BUSY, type demo } from "tsbpf/kernel";\nimport type { Ptr } from "tsbpf";\nexport const busy = (d: Ptr<demo>): boolean => d.st === BUSY;\n';
  assert.deepEqual(typeCheck({ [join(ROOT, "__demo.ts")]: d.text, [join(ROOT, "__probe.ts")]: probe }).filter((e) => !e.includes("typedef_state")), []);
  assert.throws(() => declareKernelTypes(syntheticBtf(), ["BUSYY"]), UnknownKernelTypeError);
});
