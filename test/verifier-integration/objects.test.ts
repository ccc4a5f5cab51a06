// The verifier model on whole objects, beside the kernel: every example and every compiler fixture
// that compiles is accepted by the model (as `tsbpf verify` links and describes it) and by the running
// kernel (runtime/loader's loadObject); clang-19 objects go through the CLI; rejections show the C or
// TypeScript source line; the JSON output's shape.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, type CompileResult } from "../../compiler/index.js";
import { assemble, encode } from "../../compiler/isa/index.js";
import { readBpfObject, readElf } from "../../compiler/elf/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import { LoadError, loadObject, openObject } from "../../runtime/loader/index.js";
import { ProgType, missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { exampleProbes } from "../support/examples.js";
import { BPF_MAX_LOOPS, Vm } from "../../runtime/vm/vm.js";
import { Memory } from "../../runtime/vm/memory.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { CLI } from "../support/cli.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);
// Without tracefs (readable by root alone) probes compile against the fixtures' tracepoint formats, for the model only.
const noTracefs = missingTracefs();
const CLANG = spawnSync("clang-19", ["--version"]).status === 0 ? "clang-19" : undefined;
const TMP = mkdtempSync(join(tmpdir(), "tsbpf-verify-"));
const HERE = "test/verifier-integration/fixtures";
const FIXTURES = "test/compiler/fixtures";

/** Runs `tsbpf verify` asynchronously, so the CLI tests overlap. */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, "verify", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const tracepointFormat = (group: string, name: string): string | undefined => {
  const path = join(FIXTURES, "tracepoints", group, `${name}.format`);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
};

/** Loads every program of an object into the kernel; gives the rejection, if any. */
function kernelVerdict(bytes: Uint8Array, name: string): { accepted: boolean; reason?: string } {
  try {
    loadObject(sys, openObject(bytes, { name })).close();
    return { accepted: true };
  } catch (e) {
    if (e instanceof LoadError) return { accepted: false, reason: e.reason };
    throw e;
  }
}

function checkBoth(bytes: Uint8Array, name: string): void {
  const model = verifyObject(bytes, { name });
  const rejected = model.programs.filter((p) => !p.accepted).map((p) => `${p.name}: ${p.error?.text}`);
  assert.deepEqual(rejected, [], `${name}: the model rejects`);
  assert.ok(model.programs.length > 0);
  if (!noKernel) {
    const k = kernelVerdict(bytes, name);
    assert.ok(k.accepted, `${name}: the kernel rejects: ${k.reason}`);
  }
}

function compiled(path: string, fixture = false): CompileResult {
  const r = compile(path, fixture ? { tracepointFormat } : {});
  assert.deepEqual(r.diagnostics, [], `${path} does not compile`);
  return r;
}

function clang(name: string): string {
  const out = join(TMP, `${name}.bpf.o`);
  if (existsSync(out)) return out;
  const r = spawnSync(CLANG!, ["-O2", "-g", "-target", "bpf", "-c", join(HERE, `${name}.bpf.c`), "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

test("every example is accepted by the model and by the kernel", () => {
  const examples = exampleProbes();
  assert.ok(examples.length >= 3);
  for (const f of examples) checkBoth(compiled(join("examples", f), noTracefs !== undefined).object, f.replace(/\.ts$/, ""));
});

test("every compiler fixture that compiles is accepted by the model and by the kernel", () => {
  let n = 0;
  for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith(".ts"))) {
    const r = compile(join(FIXTURES, f), { tracepointFormat });
    if (r.diagnostics.length) continue;
    checkBoth(r.object, f.replace(/\.ts$/, ""));
    n++;
  }
  assert.ok(n >= 10, `only ${n} fixtures compiled`);
});

describe("tsbpf verify on files", { concurrency: true }, () => {
test("clang objects: a missing null check is rejected by both, shown at the C line", { skip: CLANG ? false : "clang-19 is missing" }, async () => {
  const obj = clang("no-null-check");
  const r = await cli(obj);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /no-null-check\.bpf\.c:16:\d+ - error TSBPF2002: `bpf_map_lookup_elem\(&values, &key\)` may be null here/);
  assert.match(r.stdout, /^16 +return \*v;$/m);
  assert.match(r.stdout, /note: the verifier model rejects instruction \d+ `r0 = \*\(u64 \*\)\(r0 \+0\)`: R0 invalid mem access 'map_value_or_null'/);
  if (!noKernel) {
    const k = kernelVerdict(readFileSync(obj), "no_null_check");
    assert.equal(k.accepted, false);
    assert.match(k.reason!, /map_value_or_null/);
  }
});

test("--json: the verdict per program, the error with its instruction, code, hint and source position", { skip: CLANG ? false : "clang-19 is missing" }, async () => {
  const r = await cli(clang("no-null-check"), "--json");
  assert.equal(r.status, 3);
  const out = JSON.parse(r.stdout);
  assert.equal(out.accepted, false);
  assert.match(out.file, /no-null-check\.bpf\.o$/);
  assert.equal(out.programs.length, 1);
  const [p] = out.programs;
  assert.deepEqual(Object.keys(p).sort(), ["accepted", "error", "insns", "name", "processed", "progType", "section", "verdict"]);
  assert.equal(p.verdict, "rejected");
  assert.equal(p.name, "no_null_check");
  assert.equal(p.section, "kprobe/do_unlinkat");
  assert.equal(p.progType, "kprobe");
  assert.equal(p.accepted, false);
  assert.equal(p.error.register, 0);
  assert.equal(p.error.insn, "r0 = *(u64 *)(r0 +0)");
  assert.equal(p.error.code, "TSBPF2002");
  assert.match(p.error.message, /map_value_or_null/);
  assert.match(p.error.state, /^map_value_or_null/);
  assert.match(p.error.text, /^instruction \d+ /);
  assert.equal(p.error.source.line, 16);
  assert.match(p.error.source.file, /no-null-check\.bpf\.c$/);
  assert.equal(p.error.source.text.trim(), "return *v;");
  assert.equal(p.error.expression, "*v");
  assert.equal(p.error.source.text.slice(p.error.source.column - 1, p.error.source.column + 1), "*v");
});

test("clang objects: a map, a sub-program and printk are accepted by the CLI (--log: kernel-style, under source lines) and the kernel", { skip: CLANG ? false : "clang-19 is missing" }, async () => {
  const obj = clang("counts");
  const r = await cli(obj, "--log");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^count_unlinks \(tracepoint\/syscalls\/sys_enter_unlinkat, tracepoint\): accepted, \d+ instructions processed/m);
  assert.match(r.stdout, /^ {2}; __u64 \*n = bpf_map_lookup_elem\(&counts, &pid\); @ .*counts\.bpf\.c:14$/m);
  // bump() is a global function: verified on its own after the program (its own frame 0), as the kernel logs it
  assert.match(r.stdout, /^ {2}\d+: \(85\) call pc\+\d+\n {2}Func#1 \('bump'\) is global and assumed valid\.\n {2}\d+: R0=scalar\(\)$/m);
  assert.match(r.stdout, /^ {2}Validating bump\(\) func#1\.\.\.\n {2}\d+: R1=scalar\(\) R10=fp0$/m);
  assert.match(r.stdout, /^ {2}\d+: \(85\) call bpf_map_lookup_elem#1 +; R0_w=map_value_or_null\(id=\d+,ks=4,vs=8\)$/m);
  assert.match(r.stdout, /^ {2}Func#1 \('bump'\) is safe for any args that match its prototype$/m);
  assert.match(r.stdout, /^ {2}0: R1=ctx\(\) R10=fp0$/m);
  assert.match(r.stdout, /^ {2}processed \d+ insns \(limit 1000000\)/m);
  assert.match(r.stdout, /^ {2}\d+: \(95\) exit$/m);
  if (!noKernel) assert.ok(kernelVerdict(readFileSync(obj), "counts").accepted);
});

test("a TypeScript probe: accepted through the CLI, and a broken object shows the TypeScript line", async () => {
  // The command compiles the probe against tracefs's formats.
  if (!noTracefs) {
    const ok = await cli("examples/unlink-tracepoint.ts", "--json");
    assert.equal(ok.status, 0, ok.stderr);
    const out = JSON.parse(ok.stdout);
    assert.equal(out.accepted, true);
    assert.deepEqual(out.programs.map((p: { name: string; progType: string }) => [p.name, p.progType]), [["unlinkat", "tracepoint"]]);
  }

  // Break the compiled object: the first slot of line 9 (the printk) reads below the stack.
  const r = compiled("examples/unlink-tracepoint.ts", noTracefs !== undefined);
  const p = r.programs[0]!;
  const at = p.lines.findIndex((l) => l?.line === 9);
  const bytes = new Uint8Array(r.object);
  const section = readElf(bytes).sections.find((s) => s.name === p.section)!;
  bytes.set(encode(assemble("r1 = *(u64 *)(r10 - 520)")), section.offset + at * 8);
  const path = join(TMP, "broken.bpf.o");
  writeFileSync(path, bytes);
  const bad = await cli(path);
  assert.equal(bad.status, 3);
  assert.match(bad.stdout, /unlink-tracepoint\.ts:9:\d+ - error TSBPF2004: /);
  assert.match(bad.stdout, /^9 +printk\(`unlinkat by/m);
  if (!noKernel) assert.equal(kernelVerdict(bytes, "broken").accepted, false);
});

test("usage: no file and no --insns-hex, or a file that is not an object, exits 2", async () => {
  assert.equal((await cli()).status, 2);
  const notElf = join(TMP, "not-elf.o");
  writeFileSync(notElf, "hello");
  const r = await cli(notElf);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not-elf\.o: /);
});
});

/** Loads one program of an object into the kernel; gives the rejection, if any. */
function kernelVerdictOf(bytes: Uint8Array, name: string, program: string): { accepted: boolean; reason?: string } {
  try {
    loadObject(sys, openObject(bytes, { name }), { programs: [program] }).close();
    return { accepted: true };
  } catch (e) {
    if (e instanceof LoadError) return { accepted: false, reason: e.reason };
    throw e;
  }
}

test("helpers per program type and map type: the model and the kernel agree program by program", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("helpers"));
  const model = verifyObject(bytes, { name: "helpers" });
  const tracing = ["kprobe", "tp", "perf", "raw_tp"];
  const refused = new Set([
    ...tracing.map((t) => `coarse_clock_${t}`),
    ...tracing.filter((t) => t !== "kprobe").map((t) => `func_ip_${t}`),
    "func_ip_socket",
    "cookie_socket",
    ...tracing.map((t) => `socket_cookie_${t}`),
    "under_cgroup_array_map",
    "lookup_perf_array",
    "snprintf_stack_format",
  ]);
  assert.equal(model.programs.length, 5 * 12 + 3);
  for (const p of model.programs) {
    assert.equal(p.accepted, !refused.has(p.name), `${p.name}: the model ${p.accepted ? "accepts" : `rejects: ${p.error?.text}`}`);
    if (noKernel) continue;
    const k = kernelVerdictOf(bytes, "helpers", p.name);
    assert.equal(k.accepted, p.accepted, `${p.name}: the kernel ${k.accepted ? "accepts" : `rejects: ${k.reason}`}`);
    // Refusals give the kernel's reason line (helper availability, map type, argument type).
    if (!k.accepted) assert.equal(p.error?.message, k.reason, p.name);
  }
  const wrongMap = model.programs.find((p) => p.name === "under_cgroup_array_map")!;
  assert.match(wrongMap.error!.hint, /^`bpf_current_task_under_cgroup\(&plain, 0\)` passes an array map to bpf_current_task_under_cgroup, /);
});

test("tp_btf programs: the context typed by the tracepoint's BTF prototype, loads walked over the kernel's structs, as the kernel judges them", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("tp-btf"));
  const model = verifyObject(bytes, { name: "tp_btf" });
  assert.equal(model.programs.length, 17);
  const byName = new Map(model.programs.map((p) => [p.name, p]));
  for (const p of model.programs) {
    assert.equal(p.verdict, p.name.startsWith("bad_") ? "rejected" : "accepted", `${p.name}: ${p.unchecked ?? p.error?.text ?? "accepted"}`);
    if (noKernel) continue;
    const k = kernelVerdictOf(bytes, "tp_btf", p.name);
    assert.equal(k.accepted, p.accepted, `${p.name}: the kernel ${k.accepted ? "accepts" : `rejects: ${k.reason}`}`);
    // The kernel's last log line; the model may add why after a colon.
    if (!k.accepted) assert.ok(p.error!.message.startsWith(k.reason!), `${p.name}: the model says ${p.error!.message}, the kernel ${k.reason}`);
  }
  assert.match(byName.get("bad_no_such_arg")!.error!.message, /^invalid bpf_context access off=24 size=8: func 'sched_process_exec' doesn't have 3-th argument$/);
  assert.match(byName.get("bad_half_arg")!.error!.message, /offset 12 is not multiple of 8$/);
  assert.equal(byName.get("bad_beyond_task")!.error!.message, "access beyond struct task_struct at off 1000000 size 8");
  // A store into the context is said to write it (it was said to read it).
  assert.match(byName.get("bad_ctx_write")!.error!.hint, /writes the probe's context, which a tracing program may not change there/);
  assert.match(byName.get("bad_untrusted_cookie")!.error!.message, /^R1 type=rcu_ptr_or_null_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_$/);
  // fentry and the other BTF hooks stay unchecked
  const hooks = verifyObject(readFileSync(clang("unmodelled")), { name: "unmodelled" });
  assert.equal(hooks.programs.find((p) => p.name === "on_unlinkat")!.verdict, "unchecked");
});

test("a .kconfig value reads as the running kernel's, so a version check prunes a branch as the kernel prunes it", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("kconfig-guard"));
  const model = verifyObject(bytes, { name: "kconfig" });
  assert.deepEqual(model.programs.map((p) => [p.name, p.verdict]), [["version_guard", "accepted"]]);
  if (!noKernel) assert.deepEqual(kernelVerdictOf(bytes, "kconfig", "version_guard"), { accepted: true });
});

test("maps of maps: a lookup gives the inner map, a map argument once null-checked; the model and the kernel agree program by program", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("map-in-map"));
  const model = verifyObject(bytes, { name: "mapinmap" });
  const byName = new Map(model.programs.map((p) => [p.name, p]));
  assert.deepEqual(model.programs.map((p) => p.name), ["inner_lookup", "inner_update", "bad_inner_unchecked", "bad_inner_write", "bad_inner_value_size", "inner_read", "bad_outer_update", "bad_outer_delete"]);
  // The kernel lets root read its struct bpf_array through the map pointer; the model, without the kernel's BTF there, refuses it.
  const modelOnly = new Set(["inner_read"]);
  for (const p of model.programs) {
    assert.equal(p.accepted, !p.name.startsWith("bad_") && !modelOnly.has(p.name), `${p.name}: the model ${p.accepted ? "accepts" : `rejects: ${p.error?.text}`}`);
    if (noKernel) continue;
    const k = kernelVerdictOf(bytes, "mapinmap", p.name);
    assert.equal(k.accepted, !p.name.startsWith("bad_"), `${p.name}: the kernel ${k.accepted ? "accepts" : `rejects: ${k.reason}`}`);
    // The kernel's last log line is in the model's message (after the first access error, for the value size).
    if (!k.accepted) assert.ok(p.error!.message.includes(k.reason!), `${p.name}: the model says ${p.error!.message}, the kernel ${k.reason}`);
  }
  // before the null check it is the outer map's value, maybe NULL even for a constant key in an array of maps
  assert.equal(byName.get("bad_inner_unchecked")!.error!.message, "R1 type=map_value_or_null expected=map_ptr");
  assert.equal(byName.get("bad_inner_write")!.error!.message, "only read from bpf_array is supported");
  assert.match(byName.get("bad_inner_value_size")!.error!.message, /^invalid access to map value, value_size=4 off=0 size=8/);
  assert.equal(byName.get("bad_outer_update")!.error!.message, "cannot pass map_type 12 into func bpf_map_update_elem#2");
  assert.equal(byName.get("bad_outer_delete")!.error!.message, "cannot pass map_type 13 into func bpf_map_delete_elem#3");
  assert.match(byName.get("inner_read")!.error!.message, /struct bpf_array through a map pointer/);
});

/** Loads one program of an object with a verifier log: the verdict, the rejection and the processed count. */
function kernelRun(bytes: Uint8Array, name: string, program: string): { accepted: boolean; reason?: string; processed?: number } {
  const processed = (log: string | undefined): number | undefined => {
    const m = /^processed (\d+) insns/m.exec(log ?? "");
    return m ? Number(m[1]) : undefined;
  };
  try {
    const o = loadObject(sys, openObject(bytes, { name }), { programs: [program], logLevel: 1 });
    const log = o.programs.get(program)?.log;
    o.close();
    return { accepted: true, processed: processed(log) };
  } catch (e) {
    if (e instanceof LoadError) return { accepted: false, reason: e.reason, processed: processed(e.log) };
    throw e;
  }
}

test("global functions: each verified once on its own from its BTF prototype, calls checked against it, as the kernel does (verdicts, reasons, processed counts)", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("global-funcs"));
  const model = verifyObject(bytes, { name: "globals", log: true });
  const byName = new Map(model.programs.map((p) => [p.name, p]));
  const rejected = new Set(["not_checked", "void_arg", "dropped_arg", "result_unknown"]);
  assert.deepEqual(model.programs.map((p) => p.name).sort(), ["ctx_arg", "dropped_arg", "nonnull_arg", "not_checked", "null_checked", "result_unknown", "scalar_args", "shared_a", "shared_b", "static_func", "void_arg"]);
  for (const p of model.programs) {
    assert.equal(p.verdict, rejected.has(p.name) ? "rejected" : "accepted", `${p.name}: ${p.error?.text ?? p.unchecked ?? "accepted"}`);
    if (noKernel) continue;
    const k = kernelRun(bytes, "globals", p.name);
    assert.equal(k.accepted, p.accepted, `${p.name}: the kernel ${k.accepted ? "accepts" : `rejects: ${k.reason}`}`);
    if (!k.accepted) assert.ok(p.error!.message.startsWith(k.reason!), `${p.name}: the model says ${p.error!.message}, the kernel ${k.reason}`);
    assert.equal(p.processed, k.processed, `${p.name}: processed`);
  }
  // A pointer argument is memory of the pointee's size, or NULL: the function must check it (unless tagged arg:nonnull).
  assert.match(byName.get("not_checked")!.error!.message, /^R1 invalid mem access 'mem_or_null'/);
  assert.ok(byName.get("not_checked")!.log!.includes("13: R1=mem_or_null(id=2,sz=8) R10=fp0"));
  // clang passes nothing for an unused argument; the prototype still wants a scalar there
  assert.equal(byName.get("dropped_arg")!.error!.message, "Caller passes invalid args into func#1 ('first_only'): R2 is not a scalar");
  assert.equal(byName.get("void_arg")!.error!.message, "Caller passes invalid args into func#1 ('untyped'): arg#0 reference type('UNKNOWN ') size cannot be determined: -22");
  // called twice, verified once
  const shared = byName.get("shared_b")!.log!;
  assert.equal(shared.filter((l) => l === "Func#1 ('shared') is global and assumed valid.").length, 2);
  assert.equal(shared.filter((l) => l === "Validating shared() func#1...").length, 1);
  assert.ok(shared.includes("Func#1 ('shared') is safe for any args that match its prototype"));
  // the static function is walked with the caller's stack pointer: no NULL check needed
  assert.ok(!byName.get("static_func")!.log!.some((l) => /Validating|is global/.test(l)));
  // counts.bpf.c's bump() is global too
  const counts = readFileSync(clang("counts"));
  const c = verifyObject(counts, { name: "counts" }).programs[0]!;
  assert.equal(c.verdict, "accepted");
  if (!noKernel) assert.equal(c.processed, kernelRun(counts, "counts", "count_unlinks").processed);
});

/** `tsbpf exec --elf` of one program of an object. */
function execElf(bytes: Uint8Array, section: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [...CLI, "exec", "--elf", "--section", section, ...args], { input: bytes, encoding: "utf8" });
}

test("clang-19 can_loop (may_goto) loops: accepted by the model and the kernel; both VM tiers and tsbpf exec run them as the kernel does", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("can-loop"));
  const model = verifyObject(bytes, { name: "canloop" });
  assert.deepEqual(model.programs.map((p) => [p.name, p.verdict]), [["sum_below", "accepted"], ["count_all", "accepted"]]);
  const programs = new Map(readBpfObject(bytes).programs.map((p) => [p.name, p.insns]));
  const sum = (999 * 1000 * 1999) / 6;
  let expected = sum % 65521;
  if (!noKernel) {
    for (const name of ["sum_below", "count_all"]) assert.deepEqual(kernelVerdictOf(bytes, "canloop", name), { accepted: true }, name);
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(programs.get("sum_below")!) });
    try {
      expected = sys.progTestRun(fd, { dataIn: new Uint8Array(64) }).retval;
    } finally {
      sys.close(fd);
    }
    assert.equal(expected, sum % 65521);
  }
  // Only may_goto ends count_all: after BPF_MAX_LOOPS in the VM (the kernel's count is time bound on x86-64).
  for (const tier of ["interpreter", "compiled"] as const) {
    const vm = new Vm({ tier: selectTier(tier) });
    const run = (name: string): bigint => vm.run(vm.load(programs.get(name)!, { memory: new Memory(), helpers: new Map() }), { budget: 30_000_000 }).r0;
    assert.equal(run("sum_below"), BigInt(expected), tier);
    assert.equal(run("count_all"), BigInt(BPF_MAX_LOOPS), tier);
  }
  const r = execElf(bytes, "sum_below");
  assert.equal(r.stdout, `0x${expected.toString(16)}\n`, r.stderr);
});

test("bpf_loop and bpf_for_each_map_elem callbacks in C: the model and the kernel agree program by program", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const bytes = readFileSync(clang("callbacks"));
  const model = verifyObject(bytes, { name: "callbacks" });
  const byName = new Map(model.programs.map((p) => [p.name, p]));
  assert.deepEqual(model.programs.map((p) => p.name), [
    "loop_sum", "loop_count_index", "bad_loop_count_index", "bad_callback_result", "each_sum", "bad_each_count_index", "each_clear", "bad_each_key_write",
    "packet_reread", "bad_packet_stale",
  ]);
  for (const p of model.programs) {
    assert.equal(p.verdict, p.name.startsWith("bad_") ? "rejected" : "accepted", `${p.name}: the model ${p.accepted ? "accepts" : `rejects: ${p.error?.text ?? p.unchecked}`}`);
    if (noKernel) continue;
    const k = kernelVerdictOf(bytes, "callbacks", p.name);
    assert.equal(k.accepted, !p.name.startsWith("bad_"), `${p.name}: the kernel ${k.accepted ? "accepts" : `rejects: ${k.reason}`}`);
    // The kernel's last log line is in the model's message.
    if (!k.accepted) assert.ok(p.error!.message.includes(k.reason!), `${p.name}: the model says ${p.error!.message}, the kernel ${k.reason}`);
  }
  assert.equal(byName.get("bad_callback_result")!.error!.message, "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]");
  assert.equal(byName.get("bad_each_key_write")!.error!.message, "write to change key R2 not allowed");
  assert.match(byName.get("bad_callback_result")!.error!.hint, /the callback returns a value other than 0 and 1 here: bpf_loop and bpf_for_each_map_elem take 0 from a callback to go on and 1 to stop/);
  assert.equal(byName.get("bad_callback_result")!.error!.source?.line, 74);
});
