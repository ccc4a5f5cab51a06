// `tsbpf verify`: exit codes, the rejection message naming the disassembled instruction,
// JSON output and usage errors; on a C object, programs the model does not check and rejections in the
// author's code (beside the kernel's verdicts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble, encode } from "../../compiler/isa/index.js";
import { LoadError, loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { CLI } from "../support/cli.js";

const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, "verify", ...args], { encoding: "utf8" });
const hex = (text: string): string => Buffer.from(encode(assemble(text))).toString("hex");

test("an accepted program exits 0", () => {
  const r = cli("--insns-hex", hex("r0 = 2\nexit"), "--prog-type", "xdp");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^accepted: 2 instructions processed/);
});

test("a rejected program exits 3 and names the instruction and the reason", () => {
  const r = cli("--insns-hex", hex("r0 = 0\nr0 = *(u64 *)(r2 + 0)\nexit"), "--prog-type", "kprobe");
  assert.equal(r.status, 3);
  assert.match(r.stdout, /rejected: instruction 1 `r0 = \*\(u64 \*\)\(r2 \+0\)`: R2 !read_ok/);
});

test("--json gives the verdict, the error and its instruction; --map declares maps", () => {
  const text = "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = map[fd:3]\ncall bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit";
  const r = cli("--insns-hex", hex(text), "--prog-type", "socket_filter", "--map", "3:hash:8:8:16", "--json");
  assert.equal(r.status, 3);
  const out = JSON.parse(r.stdout);
  assert.equal(out.accepted, false);
  assert.equal(out.error.pc, 7);
  assert.equal(out.error.register, 0);
  assert.match(out.error.message, /map_value_or_null/);
  assert.equal(out.error.insn, "r0 = *(u64 *)(r0 +0)");
});

test("raw instructions calling a helper the model does not know are not checked (exit 0), as an object's program is, with the verdict in --json", () => {
  const text = "call bpf_map_push_elem\nr0 = 0\nexit";
  const r = cli("--insns-hex", hex(text), "--prog-type", "kprobe");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "not checked: helper bpf_map_push_elem#87 is not modelled by this verifier (instruction 0); the kernel's verifier judges it when loaded\n");
  const json = cli("--insns-hex", hex(text), "--prog-type", "kprobe", "--json");
  assert.equal(json.status, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.equal(out.verdict, "unchecked");
  assert.equal(out.unchecked, "helper bpf_map_push_elem#87 is not modelled by this verifier (instruction 0)");
  assert.equal(out.error, undefined);
  // Accepted and rejected programs carry their verdicts too.
  assert.equal(JSON.parse(cli("--insns-hex", hex("r0 = 2\nexit"), "--prog-type", "xdp", "--json").stdout).verdict, "accepted");
  assert.equal(JSON.parse(cli("--insns-hex", hex("exit"), "--prog-type", "xdp", "--json").stdout).verdict, "rejected");
});

test("usage errors exit 2", () => {
  assert.equal(cli("--insns-hex", "b7", "--prog-type", "xdp").status, 2);
  const r = cli("--insns-hex", hex("r0 = 0\nexit"), "--prog-type", "nope");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown program type "nope"/);
});

test("--log: the kernel's log_level 2 form, each instruction with the registers and stack it touched", () => {
  const text = "r0 = 0\nr2 = r10\nr2 += -8\n*(u64 *)(r2 + 0) = r0\ncall bpf_get_prandom_u32\nif r0 > 5 goto +1\nr0 = 1\nr0 = 0\nexit";
  const r = cli("--insns-hex", hex(text), "--prog-type", "socket_filter", "--log");
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.deepEqual(lines.slice(0, 6), [
    "0: R1=ctx() R10=fp0",
    "0: (b7) r0 = 0                        ; R0_w=0",
    "1: (bf) r2 = r10                      ; R2_w=fp0 R10=fp0",
    "2: (07) r2 += -8                      ; R2_w=fp-8",
    "3: (7b) *(u64 *)(r2 +0) = r0          ; R0=0 R2=fp-8 fp-8=0",
    "4: (85) call bpf_get_prandom_u32#7    ; R0_w=scalar()",
  ]);
  assert.match(lines[6]!, /^5: \(25\) if r0 > 0x5 goto pc\+1 {9};.*R0=scalar\(.*umax=5/);
  assert.ok(lines.includes("8: (95) exit"));
  // the queued side of the branch resumes at 7, where the explored state covers it
  assert.ok(lines.includes("from 5 to 7: safe"), r.stdout);
  assert.match(r.stdout, /^processed 10 insns \(limit 1000000\) max_states_per_insn \d+ total_states \d+$/m);
  assert.match(r.stdout, /^accepted: 10 instructions processed$/m);
});

test("--log: a resumed path starts with its whole state; a rejection ends the log with the reason", () => {
  const text = "call bpf_get_prandom_u32\nr6 = 8\nif r0 != 0 goto +1\nr6 = -8\nr1 = r10\nr1 += r6\nr2 = 0\n*(u64 *)(r1 - 8) = r2\nr0 = 0\nexit";
  const r = cli("--insns-hex", hex(text), "--prog-type", "socket_filter", "--log", "--json");
  assert.equal(r.status, 3);
  const { log } = JSON.parse(r.stdout) as { log: string[] };
  assert.ok(log.includes("from 2 to 4: R0=scalar(umin=1) R6=8 R10=fp0"), log.join("\n"));
  assert.ok(log.includes("5: (0f) r1 += r6                      ; R1_w=fp8 R6=8"), log.join("\n"));
  assert.match(log.at(-1)!, /^invalid write to stack R1 off=0 size=8/);
});

const CLANG = spawnSync("clang-19", ["--version"]).status === 0 ? "clang-19" : undefined;

/** The C fixture with an fentry program, an accepted kprobe, a raw_tp walking the current task, a kprobe calling bpf_loop and a kprobe that dereferences a scalar. */
function unmodelledObject(): string {
  const out = join(mkdtempSync(join(tmpdir(), "tsbpf-verify-cli-")), "unmodelled.bpf.o");
  const r = spawnSync(CLANG!, ["-O2", "-g", "-target", "bpf", "-c", "test/verifier-integration/fixtures/unmodelled.bpf.c", "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

test("a C object: an fentry program and a call of a helper the model does not know are not checked (the kernel judges them), a rejection is the model's verdict on the author's code", { skip: CLANG ? false : "clang-19 is missing" }, () => {
  const obj = unmodelledObject();
  const r = cli(obj);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /^on_unlinkat \(fentry\/do_unlinkat, tracing\): not checked: the model does not check fentry programs: their context is typed by their BTF attach target, which it does not model$/m);
  assert.match(r.stdout, /^on_unlink \(kprobe\/do_unlinkat, kprobe\): accepted/m);
  assert.match(r.stdout, /^current_parent \(raw_tp\/sched_switch, raw_tracepoint\): accepted/m);
  assert.match(r.stdout, /^branches \(kprobe\/do_unlinkat, kprobe\): not checked: helper bpf_get_branch_snapshot#176 is not modelled by this verifier \(instruction \d+\)$/m);
  // its callback is checked as the kernel checks it (it was not checked: bpf_loop had no prototype)
  assert.match(r.stdout, /^loop_helper \(kprobe\/do_unlinkat, kprobe\): accepted/m);
  assert.match(r.stdout, /unmodelled\.bpf\.c:61:\d+ - error TSBPF2001: the verifier model rejects `\*\(int \*\)addr`: R0 invalid mem access 'scalar'/);
  assert.doesNotMatch(r.stdout, /generated code|tsbpf bug/);
  assert.match(r.stdout, /^1 of 6 programs rejected\.\n2 of 6 programs not checked by the model: the kernel's verifier judges them when loaded \(tsbpf load\)\.$/m);

  // Without the rejected program nothing is rejected: exit 0, and --json says which program was not checked and why.
  const ok = cli(obj, "--program", "on_unlinkat", "--json");
  assert.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout);
  assert.equal(out.accepted, true);
  assert.equal(out.programs[0].verdict, "unchecked");
  assert.equal(out.programs[0].accepted, false);
  assert.match(out.programs[0].unchecked, /does not check fentry programs/);

  const sys = openSys();
  if (missingRoot() ?? missingBpf(sys)) return;
  const bytes = readFileSync(obj);
  const kernel = (program: string): string => {
    try {
      loadObject(sys, openObject(bytes, { name: "unmodelled" }), { programs: [program] }).close();
      return "accepted";
    } catch (e) {
      if (e instanceof LoadError) return e.reason;
      throw e;
    }
  };
  // (fentry programs load only where the kernel allows BPF trampolines, which this test does not require)
  assert.equal(kernel("on_unlink"), "accepted");
  assert.equal(kernel("loop_helper"), "accepted");
  assert.equal(kernel("branches"), "accepted");
  assert.equal(kernel("current_parent"), "accepted");
  assert.match(kernel("deref_scalar"), /R0 invalid mem access 'scalar'/);
});

test("raw instructions of a type that needs a BTF attach target are refused, as the kernel refuses them without one", () => {
  const r = cli("--insns-hex", hex("r0 = 0\nexit"), "--prog-type", "tracing");
  assert.equal(r.status, 3);
  assert.match(r.stdout, /rejected: .*a tracing program needs a BTF attach target \(attach_btf_id\), which raw instructions do not name/);
});
