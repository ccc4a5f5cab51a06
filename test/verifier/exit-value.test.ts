// A return value out of the program type's range, as Linux 6.18 words it (verbose_invalid_scalar): the known signed
// bounds, a constant's too, or "unknown scalar value". The model's verdicts and reasons against the running kernel's
// on cgroup_skb programs, which must return 0 or 1.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { ProgTypeId } from "../../compiler/verifier/index.js";
import { missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const exact = (has: string): RegExp => new RegExp(`^At program exit the register R0 has ${has} should have been in \\[0, 1\\]$`, "m");

const CASES: Case[] = [
  ["1", assemble("r0 = 1\nexit")],
  ["3", assemble("r0 = 3\nexit"), exact("smin=3 smax=3")],
  ["-1", assemble("r0 = -1\nexit"), exact("smin=-1 smax=-1")],
  ["a helper's result", assemble("call bpf_get_prandom_u32\nexit"), exact("unknown scalar value")],
  ["a 32-bit one", assemble("call bpf_get_prandom_u32\nw0 = w0\nexit"), exact("smin=0 smax=4294967295")],
  ["a random number & 7", assemble("call bpf_get_prandom_u32\nr0 &= 7\nexit"), exact("smin=0 smax=7")],
  ["at most 5", assemble("call bpf_get_prandom_u32\nif r0 s> 5 goto out\nexit\nout: r0 = 0\nexit"), exact("smax=5")],
  ["at least 2", assemble("call bpf_get_prandom_u32\nif r0 s< 2 goto out\nexit\nout: r0 = 0\nexit"), exact("smin=2")],
];

const noBpf = missingBpf();

test("return values out of range: the model's verdicts and wording are the kernel's", { skip: noBpf ?? false }, () => {
  assert.deepEqual(disagreements(openSys(), CASES, { progType: ProgTypeId.cgroup_skb }), []);
});
