// `tsbpf verify`: exit codes, the rejection message naming the disassembled instruction,
// JSON output and usage errors.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { assemble, encode } from "../../compiler/isa/index.js";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "cli/main.ts", "verify", ...args], { encoding: "utf8" });
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

test("usage errors exit 2", () => {
  assert.equal(cli("--insns-hex", "b7", "--prog-type", "xdp").status, 2);
  const r = cli("--insns-hex", hex("r0 = 0\nexit"), "--prog-type", "nope");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown program type "nope"/);
});
