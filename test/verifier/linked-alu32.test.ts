// Linked scalars a constant apart after a 32-bit add or sub (the kernel's BPF_ADD_CONST32, in 6.18 stable): a bound
// on `w2 = w1; w2 += -1` bounds w1 too, zero-extended, and never through a copy linked by a 64-bit add. clang
// -mcpu=v3 emits this for `if (t > 0 && t < 128) v[t] = 2;`. The model's verdicts against the running kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { type MapDesc } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const FD = 1000;
const LOOKUP = `*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:${FD}]\ncall bpf_map_lookup_elem\nif r0 != 0 goto found\nexit\nfound: r9 = r0\n`;
/** v[r1] = 2 on the 128-byte map value, then exit. */
const STORE = "r3 = r9\nr3 += r1\nr4 = 2\n*(u8 *)(r3 +0) = r4\nout: r0 = 0\nexit";
/** r0 /= 0 where the kernel must see it is unreachable. */
const DEAD = "r0 /= 0\nout: r0 = 0\nexit";

const CASES: Case[] = [
  ["t > 0 && t < 128 as clang -mcpu=v3 checks it", assemble(`${LOOKUP}call bpf_get_prandom_u32\nw1 = w0\nif w1 == 0 goto out\nw2 = w1\nw2 += -1\nif w2 > 0x7e goto out\n${STORE}`)],
  ["the same with w2 -= 1", assemble(`${LOOKUP}call bpf_get_prandom_u32\nw1 = w0\nif w1 == 0 goto out\nw2 = w1\nw2 -= 1\nif w2 > 0x7e goto out\n${STORE}`)],
  ["w2 = w1 + 1 <= 128 leaves w1 = 0xffffffff", assemble(`${LOOKUP}call bpf_get_prandom_u32\nw1 = w0\nw2 = w1\nw2 += 1\nif w2 > 128 goto out\n${STORE}`), /R3 unbounded memory access/],
  ["a 32-bit add on a value with upper bits breaks the link", assemble(`call bpf_get_prandom_u32\nr0 <<= 8\nr1 = r0\nw1 += 1\nif w1 > 10 goto out\nif r0 < 10 goto out\n${DEAD}`), /div by zero/],
  ["the linked copy's bound is zero-extended", assemble(`call bpf_get_prandom_u32\nw6 = w0\nr7 = r6\nw7 += 1\nr8 = 0xffffffff ll\nif r6 < r8 goto out\nr7 >>= 32\nif r7 == 0 goto out\n${DEAD}`)],
  ["the known register's bound is zero-extended", assemble(`call bpf_get_prandom_u32\nw0 |= 0xffffff00\nr1 = r0\nw1 += 0x100\nif r1 > 0x80 goto out\nr2 = r0\nr2 >>= 32\nif r2 == 0 goto out\n${DEAD}`)],
  ["a 32-bit and a 64-bit copy are not synced", assemble(`call bpf_get_prandom_u32\nr1 = r0\nw1 += 1\nr2 = r0\nr2 += 2\nif r1 < 10 goto out\nif r2 >= 11 goto out\n${DEAD}`), /div by zero/],
  // r7 = 0xffffffff makes r8 0x100000000, which a zero-extended sync from r7 would make 0
  ["a 64-bit copy is not synced from a 32-bit one's bound", assemble(`call bpf_get_prandom_u32\nw6 = w0\nr7 = r6\nw7 += 1\nr8 = r6\nr8 += 2\nr9 = 0xffffffff ll\nif r7 < r9 goto out\nif r8 == 0 goto out\n${DEAD}`), /div by zero/],
  ["two 32-bit copies are", assemble(`call bpf_get_prandom_u32\nw0 &= 0xffff\nr1 = r0\nw1 += 1\nr2 = r0\nw2 += 2\nif r1 < 10 goto out\nif r2 >= 11 goto out\n${DEAD}`)],
  ["a second 32-bit add breaks the link", assemble(`${LOOKUP}call bpf_get_prandom_u32\nw1 = w0\nw2 = w1\nw2 += 1\nw2 += -2\nif w2 > 0x7e goto out\n${STORE}`), /R3 unbounded memory access/],
  ["w2 -= w2 is no constant apart", assemble(`${LOOKUP}call bpf_get_prandom_u32\nw1 = w0\nw2 = w1\nw2 -= w2\nif w2 > 0x7e goto out\n${STORE}`), /R3 unbounded memory access/],
  ["a 16-bit sign-extending copy of a byte stays linked", assemble(`${LOOKUP}call bpf_get_prandom_u32\nr0 &= 0xff\nr1 = r0\nw2 = (s16)w1\nif w2 > 0x7f goto out\n${STORE}`)],
];

const noBpf = missingBpf();

test("32-bit adds of a constant keep copies linked: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const map = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 128, maxEntries: 1 });
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: 128, maxEntries: 1 }];
  try {
    assert.deepEqual(disagreements(sys, CASES, { progType: 1, maps }, new Map([[FD, map]])), []);
  } finally {
    sys.close(map);
  }
});
