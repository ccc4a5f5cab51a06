// bpf_loop and bpf_for_each_map_elem call a static subprogram back: the kernel verifies the callback in a frame of its
// own, with the helper's arguments, returning 0 or 1, and as a loop (since Linux 6.7) whose iterations come back to the
// call until they converge, so that what the callback writes to the caller's stack through its context is seen by the
// next iteration and after the call. The model's verdicts on a table of such programs against the running kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, type Insn } from "../../compiler/isa/index.js";
import { type MapDesc, ProgTypeId, verify } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements, kernelVerdict, subprogramBtf } from "./kernel-compare.js";

const ARRAY = 1000;
const HASH = 1001;
const LPM = 1002;
const PERCPU_ARRAY = 1003;
const PERF = 1004;
const RINGBUF = 1005;
const MAPS: MapDesc[] = [
  { fd: ARRAY, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { fd: HASH, type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
  // BPF_F_NO_PREALLOC, which a trie needs
  { fd: LPM, type: MapType.LPM_TRIE, keySize: 8, valueSize: 8, maxEntries: 4, flags: 1 },
  { fd: PERCPU_ARRAY, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { fd: PERF, type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 },
  { fd: RINGBUF, type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 },
];

/** bpf_loop(count, cb, fp-8, flags) with the caller's fp-8 zeroed first, then `after`, then the callback's body. */
const loop = (cb: string, { count = "r1 = 4", ctx = "r3 = r10\nr3 += -8", flags = "r4 = 0", after = "r0 = 0\nexit" } = {}): string =>
  `*(u64 *)(r10 -8) = 0\n${count}\nr2 = subprog[cb]\n${ctx}\n${flags}\ncall bpf_loop\n${after}\ncb: ${cb}`;

/** bpf_for_each_map_elem(map, cb, fp-8, 0). */
const forEach = (fd: number, cb: string): string =>
  `*(u64 *)(r10 -8) = 0\nr1 = map[fd:${fd}]\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_for_each_map_elem\nr0 = 0\nexit\ncb: ${cb}`;

/** The array's value for key 0 in r9, or the program returns 0. */
const LOOKUP = `*(u32 *)(r10 -16) = 0\nr2 = r10\nr2 += -16\nr1 = map[fd:${ARRAY}]\ncall bpf_map_lookup_elem\nif r0 != 0 goto found\nexit\nfound: r9 = r0\n`;
/** After the loop: the counter at fp-8 indexes a byte of the 8-byte value. */
const INDEX = `${LOOKUP}r1 = *(u64 *)(r10 -8)\nr9 += r1\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit`;
/** The callback adds one to the caller's counter. */
const COUNT = "r1 = *(u64 *)(r2 +0)\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit";

const UNKNOWN_COUNT = "call bpf_get_prandom_u32\nr1 = r0\n*(u64 *)(r10 -8) = 0";
/** The callback stops at 3 with a return of 2, which the kernel sees once a fourth iteration can run. */
const BAD_AT_3 = "r1 = *(u64 *)(r2 +0)\nif r1 == 3 goto bad\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit\nbad: r0 = 2\nexit";
/** The callback indexes a byte of the 8-byte value with the caller's counter, then counts. */
const INNER_INDEX = `r8 = r2\n${LOOKUP}r1 = *(u64 *)(r8 +0)\nr9 += r1\nr0 = *(u8 *)(r9 +0)\nr1 += 1\n*(u64 *)(r8 +0) = r1\nr0 = 0\nexit`;
/** The callback adds 0, 1, 2 or 3 to the counter, as random numbers decide, `capped` at 4 before adding. */
const branchy = (capped: boolean): string =>
  `r7 = r2\ncall bpf_get_prandom_u32\nr2 = r7\nr6 = r0\nr1 = *(u64 *)(r2 +0)\n${capped ? "if r1 > 4 goto +4\n" : ""}if r6 > 10 goto +1\nr1 += 1\nif r6 > 20 goto +1\nr1 += 2\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit`;
const OUT_OF_VALUE = /invalid access to map value|unbounded|outside of the allowed/;
const SPILLED_VALUE = `${LOOKUP}*(u64 *)(r10 -8) = r9\nr1 = 4\nr2 = subprog[cb]\nr3 = r10\nr3 += -8`;

const returns = (has: string): RegExp => new RegExp(`At callback return the register R0 has ${has} should have been in \\[0, 1\\]`);

const CASES: [string, string, (RegExp | null)?][] = [
  ["a callback that returns 0", loop("r0 = 0\nexit")],
  ["a callback that returns 1", loop("r0 = 1\nexit")],
  ["a callback that returns 2", loop("r0 = 2\nexit"), returns("smin=2 smax=2")],
  ["a callback that returns an unknown scalar", loop("call bpf_get_prandom_u32\nexit"), returns("unknown scalar value")],
  ["a callback that returns a scalar masked to 0 or 1", loop("call bpf_get_prandom_u32\nr0 &= 1\nexit")],
  ["a callback that returns the caller's stack pointer", loop("r0 = r2\nexit"), /cannot return stack pointer to the caller/],
  ["a callback that returns a map pointer", loop(`r0 = map[fd:${ARRAY}]\nexit`), /R0 not a scalar value/],
  ["a callback that sets no r0", loop("exit"), /R0 not a scalar value/],
  ["a callback that returns its index", loop("r0 = r1\nexit"), returns("unknown scalar value")],
  ["a callback that reads the caller's stack through its context", loop("r0 = *(u64 *)(r2 +0)\nexit")],
  ["a callback that returns what the caller stored, 5", loop("r0 = *(u64 *)(r2 +0)\nexit", { ctx: "r3 = 5\n*(u64 *)(r10 -8) = r3\nr3 = r10\nr3 += -8" }), returns("smin=5 smax=5")],
  ["a callback that reads past the caller's stack", loop("r0 = *(u64 *)(r2 +8)\nr0 = 0\nexit"), /invalid read from stack/],
  ["a callback that reads the caller's uninitialised stack", loop("r0 = *(u64 *)(r2 -8)\nr0 &= 1\nexit")],
  ["a callback that reads its own uninitialised stack", loop("r0 = *(u64 *)(r10 -8)\nr0 &= 1\nexit")],
  ["a callback that writes the caller's stack, read after the call: 7 indexes an 8-byte value", loop("r3 = 7\n*(u64 *)(r2 +0) = r3\nr0 = 0\nexit", { after: INDEX })],
  ["a callback that writes the caller's stack, read after the call: 8 is past the value", loop("r3 = 8\n*(u64 *)(r2 +0) = r3\nr0 = 0\nexit", { after: INDEX }), /invalid access to map value/],
  ["a counter counted 4 times indexes an 8-byte value", loop(COUNT, { after: INDEX })],
  ["a counter counted 8 times goes past the value", loop(COUNT, { count: "r1 = 8", after: INDEX }), /invalid access to map value|unbounded|outside of the allowed/],
  ["a counter counted an unknown number of times is unbounded", loop(COUNT, { count: "call bpf_get_prandom_u32\nr1 = r0\n*(u64 *)(r10 -8) = 0", after: INDEX }), /unbounded|outside of the allowed|invalid access to map value/],
  ["a counter the callback caps at 7", loop("r1 = *(u64 *)(r2 +0)\nif r1 >= 7 goto +2\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit", { count: "call bpf_get_prandom_u32\nr1 = r0\n*(u64 *)(r10 -8) = 0", after: INDEX })],
  ["the callback's index masked indexes an 8-byte value", loop(`r6 = r1\nr6 &= 7\n${LOOKUP}r9 += r6\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit`)],
  ["the callback's index unmasked", loop(`r6 = r1\n${LOOKUP}r9 += r6\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit`), /unbounded|outside of the allowed|invalid access to map value/],
  ["a NULL context", loop("r0 = 0\nexit", { ctx: "r3 = 0" })],
  ["a NULL context read by the callback", loop("r0 = *(u64 *)(r2 +0)\nr0 = 0\nexit", { ctx: "r3 = 0" }), /R2 invalid mem access 'scalar'/],
  ["a map value as the context", loop("r0 = 0\nexit", { ctx: `${LOOKUP}r3 = r9\nr1 = 4\nr2 = subprog[cb]` }), /R3 type=map_value expected=fp/],
  ["a scalar as the context", loop("r0 = 0\nexit", { ctx: "r3 = 8" }), /R3 type=scalar expected=fp/],
  ["non-zero flags", loop("r0 = 0\nexit", { flags: "r4 = 1" })],
  ["unknown flags", loop("r0 = 0\nexit", { flags: "call bpf_get_prandom_u32\nr4 = r0\nr1 = 4\nr2 = subprog[cb]\nr3 = r10\nr3 += -8" })],
  ["a count of 0 never runs a callback that returns 2", loop("r0 = 2\nexit", { count: "r1 = 0" })],
  ["a count of 1 runs a callback that returns 2", loop("r0 = 2\nexit", { count: "r1 = 1" }), returns("smin=2 smax=2")],
  ["a scalar as the callback", `r1 = 4\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit`, /R2 type=scalar expected=func/],
  ["a function's address moved by 8", `r1 = 4\nr2 = subprog[cb]\nr2 += 8\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb: r0 = 0\nexit`, /dereference of modified func ptr R2 off=8 disallowed/],
  ["one of two callbacks, chosen at run time", `call bpf_get_prandom_u32\nr2 = subprog[a]\nif r0 == 0 goto +2\nr2 = subprog[b]\nr1 = 4\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\na: r0 = 0\nexit\nb: r0 = 1\nexit`],
  ["one of two callbacks, one returning 2", `call bpf_get_prandom_u32\nr2 = subprog[a]\nif r0 == 0 goto +2\nr2 = subprog[b]\nr1 = 4\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\na: r0 = 0\nexit\nb: r0 = 2\nexit`, returns("smin=2 smax=2")],
  ["a callback that calls bpf_loop with another callback", loop("r1 = 3\nr2 = subprog[inner]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ninner: r0 = 1\nexit")],
  ["a nested callback that returns 2", loop("r1 = 3\nr2 = subprog[inner]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ninner: r0 = 2\nexit"), returns("smin=2 smax=2")],
  ["a nested callback that counts in the outer caller's stack", loop("r3 = r2\nr1 = 3\nr2 = subprog[inner]\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ninner: " + COUNT, { after: INDEX }), /unbounded|outside of the allowed|invalid access to map value/],
  ["a callback that calls bpf_loop with itself", loop("r1 = 2\nr2 = subprog[cb]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit"), /the call stack of 9 frames is too deep/],
  ["a callback's 256 bytes of stack under the caller's 256", loop("*(u64 *)(r10 -256) = 0\nr0 = 0\nexit", { ctx: "*(u64 *)(r10 -256) = 0\nr3 = r10\nr3 += -8" })],
  // refused as a socket filter (combined stack size of 2 calls is 528), taken as a tracepoint, whose frames get stacks of their own
  ["a callback's 264 bytes of stack under the caller's 256", loop("*(u64 *)(r10 -264) = 0\nr0 = 0\nexit", { ctx: "*(u64 *)(r10 -256) = 0\nr3 = r10\nr3 += -8" }), null],
  ["a callback that makes a BPF-to-BPF call", loop("call f\nr0 &= 1\nexit\nf: r0 = 1\nexit")],
  ["a callback whose context holds a spilled map value pointer", loop("r1 = *(u64 *)(r2 +0)\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit", { ctx: `${LOOKUP}*(u64 *)(r10 -8) = r9\nr3 = r10\nr3 += -8\nr1 = 4\nr2 = subprog[cb]` })],
  ["a callback that returns 2 at a count of 3, run 3 times", loop(BAD_AT_3, { count: "r1 = 3" })],
  ["a callback that returns 2 at a count of 3, run 4 times", loop(BAD_AT_3), returns("smin=2 smax=2")],
  ["a callback that returns 2 at a count of 3, run any number of times", loop(BAD_AT_3, { count: UNKNOWN_COUNT }), returns("smin=2 smax=2")],
  ["a callback that toggles the caller's flag and returns it", loop("r1 = *(u64 *)(r2 +0)\nr1 ^= 1\n*(u64 *)(r2 +0) = r1\nr0 = r1\nexit", { count: UNKNOWN_COUNT })],
  ["a callback that overwrites the caller's spilled pointer with a scalar", loop("r1 = 0\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit", { ctx: SPILLED_VALUE, after: "r1 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit" }), /R1 invalid mem access 'scalar'/],
  ["the same, never run (a count of 0)", loop("r1 = 0\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit", { ctx: SPILLED_VALUE.replace("r1 = 4", "r1 = 0"), after: "r1 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit" })],
  ["a count masked to 0-3", loop("r0 = 0\nexit", { count: "call bpf_get_prandom_u32\nr1 = r0\nr1 &= 3\n*(u64 *)(r10 -8) = 0" })],
  ["bpf_loop's result as an index", loop("r0 = 0\nexit", { after: `r6 = r0\n${LOOKUP}r9 += r6\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit` }), /math between map_value pointer and register with unbounded min value is not allowed/],
  ["the callback indexes with the counter, 8 times", loop(INNER_INDEX, { count: "r1 = 8" })],
  ["the callback indexes with the counter, 9 times", loop(INNER_INDEX, { count: "r1 = 9" }), OUT_OF_VALUE],
  ["the callback indexes with the counter, any number of times", loop(INNER_INDEX, { count: UNKNOWN_COUNT }), OUT_OF_VALUE],
  ["two loops counting 4 and 2 in a row", loop(COUNT, { after: `r1 = 2\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n${INDEX}` })],
  ["two loops counting 4 and 4 in a row", loop(COUNT, { after: `r1 = 4\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_loop\n${INDEX}` }), OUT_OF_VALUE],
  ["a counter capped at 7 in a branch", loop("r1 = *(u64 *)(r2 +0)\nif r1 > 6 goto +2\nr1 += 1\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit", { count: UNKNOWN_COUNT, after: INDEX })],
  ["a counter that random numbers add to", loop(branchy(false), { count: UNKNOWN_COUNT, after: INDEX }), OUT_OF_VALUE],
  ["a counter that random numbers add to, capped", loop(branchy(true), { count: UNKNOWN_COUNT, after: INDEX })],
  ["nested loops counting 3 x 2 in the outer caller's stack", loop("r3 = r2\nr1 = 2\nr2 = subprog[inner]\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ninner: " + COUNT, { count: "r1 = 3", after: INDEX })],
  ["nested loops counting 2 x 4 in the outer caller's stack", loop("r3 = r2\nr1 = 4\nr2 = subprog[inner]\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ninner: " + COUNT, { count: "r1 = 2", after: INDEX }), OUT_OF_VALUE],
  ["a callback's function writes 9 to the caller's stack", loop("r1 = r2\ncall f\nr0 = 0\nexit\nf: r2 = 9\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit", { after: INDEX }), OUT_OF_VALUE],
  ["a callback that spills its context and reads through the fill", loop("*(u64 *)(r10 -8) = r2\nr1 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r1 +0)\nr0 &= 1\nexit")],
  ["a callback that reserves and submits ring buffer memory", loop(`r1 = map[fd:${RINGBUF}]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +3\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nr0 = 0\nexit`)],
  ["a callback that reserves ring buffer memory and keeps it", loop(`r1 = map[fd:${RINGBUF}]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nr0 = 0\nexit`), null],
  ["ring buffer memory held across the loop", loop("r1 = *(u64 *)(r2 +0)\nr0 = 0\nexit", { ctx: `r1 = map[fd:${RINGBUF}]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\nr6 = r0\nr1 = 4\nr2 = subprog[cb]\nr3 = r10\nr3 += -8`, after: "r1 = r6\nr2 = 0\ncall bpf_ringbuf_submit\nout: r0 = 0\nexit" })],
  // a spill links the slot to the register (assign_scalar_id_before_mov): a check of a filled copy bounds the slot
  ["a bound checked on a filled copy holds for the spilled slot", `${LOOKUP}call bpf_get_prandom_u32\nr0 &= 7\nr0 += 1\n*(u64 *)(r10 -8) = r0\nr6 = *(u64 *)(r10 -8)\nif r6 == 8 goto +4\nr1 = *(u64 *)(r10 -8)\nr9 += r1\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit`],
  ["the same slot unchecked", `${LOOKUP}call bpf_get_prandom_u32\nr0 &= 7\nr0 += 1\n*(u64 *)(r10 -8) = r0\nr6 = *(u64 *)(r10 -8)\nif r6 == 9 goto +4\nr1 = *(u64 *)(r10 -8)\nr9 += r1\nr0 = *(u8 *)(r9 +0)\nr0 = 0\nexit`, OUT_OF_VALUE],
  ["for_each over an array: the callback reads key and value", forEach(ARRAY, "r0 = *(u32 *)(r2 +0)\nr0 = *(u64 *)(r3 +0)\nr0 = 0\nexit")],
  ["for_each over a hash: the callback reads key and value", forEach(HASH, "r0 = *(u32 *)(r2 +0)\nr0 = *(u64 *)(r3 +0)\nr0 = 0\nexit")],
  ["for_each over a per-CPU array", forEach(PERCPU_ARRAY, "r0 = *(u64 *)(r3 +0)\nr0 = 0\nexit")],
  ["for_each: the callback writes the value", forEach(ARRAY, "r1 = 1\n*(u64 *)(r3 +0) = r1\nr0 = 0\nexit")],
  ["for_each: the callback writes the key", forEach(ARRAY, "r1 = 1\n*(u32 *)(r2 +0) = r1\nr0 = 0\nexit"), /write to change key R2 not allowed/],
  ["for_each: the callback reads past the value", forEach(ARRAY, "r0 = *(u64 *)(r3 +8)\nr0 = 0\nexit"), /invalid access to map value/],
  ["for_each: the callback reads past the key", forEach(HASH, "r0 = *(u32 *)(r2 +4)\nr0 = 0\nexit"), /invalid access to map key/],
  ["for_each: the callback returns 2", forEach(HASH, "r0 = 2\nexit"), returns("smin=2 smax=2")],
  ["for_each: the callback passes its map to a lookup", forEach(HASH, "r2 = r3\nr2 += 0\nr6 = r1\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = r6\ncall bpf_map_lookup_elem\nr0 = 0\nexit")],
  ["for_each: the callback counts in the caller's stack", forEach(HASH, COUNT.replaceAll("r2", "r4"))],
  ["for_each: the callback takes its context for the key", forEach(HASH, COUNT), /invalid access to map key, key_size=4 off=0 size=8/],
  ["for_each: the callback's count indexes after the walk", `*(u64 *)(r10 -8) = 0\nr1 = map[fd:${HASH}]\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0\ncall bpf_for_each_map_elem\n${INDEX}\ncb: ${COUNT.replaceAll("r2", "r4")}`, OUT_OF_VALUE],
  ["for_each: the callback indexes the value with its count", forEach(ARRAY, "r1 = *(u64 *)(r4 +0)\nr3 += r1\nr0 = *(u8 *)(r3 +0)\nr1 += 1\n*(u64 *)(r4 +0) = r1\nr0 = 0\nexit"), OUT_OF_VALUE],
  ["for_each over an LPM trie", forEach(LPM, "r0 = 0\nexit"), /callback function not allowed for map/],
  ["for_each over a perf event array", forEach(PERF, "r0 = 0\nexit"), /callback function not allowed for map/],
];

/** A callback that is a global function (the last two instructions). */
const GLOBAL_CASE = assemble(`r1 = 4\nr2 = subprog[global]\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\nglobal: r0 = 0\nexit`);
const globalStarts = (insns: readonly Insn[]): ReadonlySet<number> => new Set(insns === GLOBAL_CASE ? [insns.length - 2] : []);

const noBpf = missingBpf();

test("bpf_loop and bpf_for_each_map_elem callbacks: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const fds = new Map<number, number>();
  try {
    for (const m of MAPS) fds.set(m.fd, sys.mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0 }));
    const cases: Case[] = CASES.map(([name, text, reason]) => [name, assemble(text), reason]);
    cases.push(["a global function as the callback", GLOBAL_CASE, /callback function not static/]);
    const problems: string[] = [];
    for (const progType of [ProgTypeId.socket_filter, ProgTypeId.tracepoint]) {
      problems.push(...disagreements(sys, cases, { progType, maps: MAPS }, fds, true, globalStarts).map((p) => `type ${progType}: ${p}`));
    }
    assert.deepEqual(problems, []);
  } finally {
    for (const fd of fds.values()) sys.close(fd);
  }
});

test("a function's address needs BTF func_info, as the kernel's", () => {
  const r = verify(assemble(loop("r0 = 0\nexit")), { progType: ProgTypeId.socket_filter });
  assert.equal(r.accepted, false);
  assert.match(r.error!.message, /^missing btf func_info/);
  assert.equal(r.error!.pc, 2);
});

test("a callback returning 2 is refused at its exit, with the kernel's words", () => {
  const insns = assemble(loop("r0 = 2\nexit"));
  const r = verify(insns, { progType: ProgTypeId.socket_filter, functions: subprogramBtf(insns).functions });
  assert.equal(r.accepted, false);
  assert.equal(r.error!.pc, insns.length - 1);
  assert.equal(r.error!.message, "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]");
});

// Found by the callback fuzzer: a loop nested in a callback, both adding to a counter a check keeps precise (and
// bounds through the slot it was filled from). The kernel runs out of instructions; the model, which had forgotten the
// counter's value and converged, must not accept it.
const NESTED_COUNTER = `call bpf_get_prandom_u32\nr0 &= 7\n*(u64 *)(r10 -8) = r0\nr1 = 20\nr2 = subprog[cb]\nr3 = r10\nr3 += -8\nr4 = 0
call bpf_loop\nr0 = *(u64 *)(r10 -8)\nr0 = 0\nexit
cb: r7 = r2\nr6 = *(u64 *)(r7 +0)\nif r6 == 8 goto +1\nr6 = 2\nr6 ^= 1\nr3 = r7\nr1 = 3\nr2 = subprog[inner]\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit
inner: ${COUNT}`;

test("a counter nested loops keep precise: the kernel gives up, and the model does not accept", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const insns = assemble(NESTED_COUNTER);
  const btf = subprogramBtf(insns);
  const btfFd = sys.btfLoad({ data: btf.data }).fd;
  try {
    const kernel = kernelVerdict(sys, insns, ProgTypeId.socket_filter, new Map(), { ...btf.load, btfFd });
    assert.equal(kernel.accepted, false);
    assert.match(kernel.why, /BPF program is too large/);
  } finally {
    sys.close(btfFd);
  }
  const model = verify(insns, { progType: ProgTypeId.socket_filter, functions: btf.functions });
  assert.equal(model.accepted, false);
  assert.match(model.error!.message, /^BPF program is too large/);
});
