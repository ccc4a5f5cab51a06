// Differential fuzzing of the model's callbacks against the kernel's verifier: random programs that keep counters and
// flags in the caller's stack, change them in a bpf_loop or bpf_for_each_map_elem callback (branching on them, indexing
// a map value with them, returning them, in nested loops and called functions) and use them after the call, some with
// one field mutated. The model must
// never accept what the kernel rejects. TSBPF_CALLBACK_FUZZ=N runs N programs (default 400); TSBPF_CALLBACK_FUZZ_SEED
// picks the seed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, disassemble, type Insn } from "../../compiler/isa/index.js";
import { type MapDesc, ProgTypeId, verify } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { Prng } from "../support/prng.js";
import { kernelVerdict, subprogramBtf } from "./kernel-compare.js";

const COUNT = Number(process.env.TSBPF_CALLBACK_FUZZ ?? 400);
const SEED = Number(process.env.TSBPF_CALLBACK_FUZZ_SEED ?? 20260101);
/** The model gives up earlier than the kernel: a give-up is a (safe) rejection. */
const MODEL_LIMIT = 200_000;

const ARRAY = 1000;
const HASH = 1001;
const MAPS: MapDesc[] = [
  { fd: ARRAY, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4 },
  { fd: HASH, type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4 },
];

/** The array's value for key 0 in r9 (r1-r5 clobbered), or the function returns 0. */
const lookup = (label: string): string =>
  `*(u32 *)(r10 -64) = 0\nr2 = r10\nr2 += -64\nr1 = map[fd:${ARRAY}]\ncall bpf_map_lookup_elem\nif r0 != 0 goto ${label}\nexit\n${label}: r9 = r0`;

/** Functions a step may call, appended to the program when used: a nested callback and a BPF-to-BPF callee. */
const INNER = "inner: r6 = *(u64 *)(r2 +0)\nr6 += 1\n*(u64 *)(r2 +0) = r6\nr0 = 0\nexit";
const ADD_TWO = "add_two: r6 = *(u64 *)(r1 +0)\nr6 += 2\n*(u64 *)(r1 +0) = r6\nr0 = 0\nexit";

/** One step on r6, the value being worked on, or on the caller's slots through r7, the context. */
function step(rng: Prng, slots: number, n: number, used: Set<string>): string {
  const slot = (): number => 8 * rng.below(slots);
  const choice = rng.below(11);
  if (choice === 9) {
    used.add(INNER);
    return `r3 = r7\nr1 = ${rng.pick([1, 2, 3])}\nr2 = subprog[inner]\nr4 = 0\ncall bpf_loop`;
  }
  if (choice === 10) {
    used.add(ADD_TWO);
    return "r1 = r7\ncall add_two";
  }
  switch (choice) {
    case 0:
      return `r6 = *(u64 *)(r7 +${slot()})`;
    case 1:
      return `*(u64 *)(r7 +${slot()}) = r6`;
    case 2:
      return `r6 += ${rng.pick([1, 1, 2, 3, -1])}`;
    case 3:
      return `r6 &= ${rng.pick([1, 3, 7, 15])}`;
    case 4:
      return `r6 ^= 1`;
    case 5:
      return `if r6 ${rng.pick([">", ">=", "==", "!=", "<"])} ${rng.below(9)} goto +1\nr6 = ${rng.below(9)}`;
    case 6:
      return "call bpf_get_prandom_u32\nr6 = r0";
    case 7:
      return `r8 = r6\n${lookup(`l${n}`)}\nr9 += r8\nr0 = *(u8 *)(r9 +0)`;
    default:
      return `r6 = *(u64 *)(r7 +${slot()})\nr6 += 1\n*(u64 *)(r7 +${slot()}) = r6`;
  }
}

/** A program: the caller's slots set, a callback helper called with them as context, a use of them after. */
function program(rng: Prng): string {
  const slots = 1 + rng.below(3);
  const lines: string[] = [];
  for (let i = 1; i <= slots; i++) {
    const init = rng.below(10);
    if (init < 6) lines.push(`*(u64 *)(r10 -${8 * i}) = ${rng.pick([0, 0, 1, 3, 7])}`);
    else if (init < 9) lines.push(`call bpf_get_prandom_u32\nr0 &= ${rng.pick([1, 7, 255])}\n*(u64 *)(r10 -${8 * i}) = r0`);
  }
  // a branch before the call: states the caller reaches it in twice, one pruned against the other
  if (rng.chance(0.4)) lines.push(`call bpf_get_prandom_u32\nif r0 > 3 goto +1\n*(u64 *)(r10 -${8 * (1 + rng.below(slots))}) = ${rng.pick([0, 2, 9])}`);
  const forEach = rng.chance(0.3);
  if (forEach) lines.push(`r1 = map[fd:${rng.pick([ARRAY, HASH])}]`);
  else {
    const count = rng.below(6);
    if (count < 3) lines.push(`r1 = ${rng.pick([0, 1, 2, 3, 4, 6, 9])}`);
    else if (count < 5) lines.push(`call bpf_get_prandom_u32\nr1 = r0${count === 3 ? "\nr1 &= 7" : ""}`);
    else lines.push(`r1 = ${rng.pick([20, 100])}`);
  }
  lines.push("r2 = subprog[cb]", rng.chance(0.92) ? `r3 = r10\nr3 += -${8 * slots}` : "r3 = 0", `r4 = ${rng.chance(0.95) ? 0 : 1}`);
  lines.push(forEach ? "call bpf_for_each_map_elem" : "call bpf_loop");
  // a second loop over the same context
  if (!forEach && rng.chance(0.2)) lines.push(`r1 = ${rng.pick([1, 2, 3])}\nr2 = subprog[cb]\nr3 = r10\nr3 += -${8 * slots}\nr4 = 0\ncall bpf_loop`);
  // after the call: a slot indexes the value, decides the result, or is left alone
  const after = rng.below(3);
  if (after === 0) lines.push(`${lookup("after")}\nr6 = *(u64 *)(r10 -${8 * (1 + rng.below(slots))})\nr9 += r6\nr0 = *(u8 *)(r9 +0)`);
  else if (after === 1) lines.push(`r0 = *(u64 *)(r10 -${8 * (1 + rng.below(slots))})`);
  lines.push("r0 = 0\nexit");
  // the callback: the context in r7, a value in r6
  lines.push(`cb: r7 = ${forEach ? "r4" : "r2"}`, rng.chance(0.7) ? "r6 = 0" : forEach ? "r6 = *(u64 *)(r3 +0)" : "r6 = r1");
  // a walk may write the element's value
  if (forEach && rng.chance(0.3)) lines.push(`r1 = ${rng.below(9)}\n*(u64 *)(r3 +0) = r1`);
  const n = 1 + rng.below(6);
  const used = new Set<string>();
  for (let k = 0; k < n; k++) lines.push(step(rng, slots, k, used));
  lines.push(rng.pick(["r0 = 0", "r0 = 1", "r0 = r6\nr0 &= 1", "r0 = r6", "r0 = 2"]), "exit", ...used);
  return lines.join("\n");
}

/** One field of one instruction changed a little. */
function mutate(rng: Prng, insns: Insn[]): Insn[] {
  const out = insns.map((x) => ({ ...x }));
  const x = out[rng.below(out.length)]!;
  if (rng.chance(0.5)) x.imm = (x.imm + rng.pick([-8, -1, 1, 8])) | 0;
  else x.off = x.off + rng.pick([-8, -1, 1, 8]);
  return out;
}

const noBpf = missingBpf();

test("fuzz: callbacks keeping state in the caller's stack, model against kernel", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const rng = new Prng(SEED);
  const fds = new Map<number, number>();
  try {
    for (const m of MAPS) fds.set(m.fd, sys.mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries }));
    let agree = 0;
    let accepted = 0;
    const unsound: string[] = [];
    const falseRejects: string[] = [];
    for (let k = 0; k < COUNT; k++) {
      const text = program(rng);
      const insns = rng.chance(0.2) ? mutate(rng, assemble(text)) : assemble(text);
      const btf = subprogramBtf(insns);
      let btfFd: number;
      try {
        btfFd = sys.btfLoad({ data: btf.data }).fd;
      } catch {
        continue; // a mutation that moved a function's address out of the program
      }
      let kernel;
      try {
        kernel = kernelVerdict(sys, insns, ProgTypeId.socket_filter, fds, { ...btf.load, btfFd });
      } finally {
        sys.close(btfFd);
      }
      const model = verify(insns, { progType: ProgTypeId.socket_filter, maps: MAPS, functions: btf.functions, limit: MODEL_LIMIT });
      if (kernel.accepted) accepted++;
      if (model.accepted === kernel.accepted) {
        agree++;
        continue;
      }
      const why = kernel.why.trim().split("\n").pop();
      const line = [
        `program ${k}: model ${model.accepted ? "accepts" : `rejects at ${model.error!.pc}: ${model.error!.message}`}; kernel ${kernel.accepted ? "accepts" : `rejects: ${why}`}`,
        ...disassemble(insns, { indices: true }).map((l) => `    ${l}`),
      ].join("\n");
      (model.accepted ? unsound : falseRejects).push(line);
    }
    console.log(`callback fuzz: ${COUNT} programs, ${accepted} accepted by the kernel, ${agree} agree, ${unsound.length} unsound accepts, ${falseRejects.length} false rejects`);
    for (const u of unsound) console.log(`UNSOUND ACCEPT ${u}`);
    for (const f of falseRejects.slice(0, 5)) console.log(`false reject ${f}`);
    assert.deepEqual(unsound, [], "the model accepted programs the kernel rejects");
    // both verdicts occur, or the generator tests little
    assert.ok(accepted > COUNT / 5 && accepted < COUNT - COUNT / 5, `${accepted} of ${COUNT} accepted by the kernel`);
  } finally {
    for (const fd of fds.values()) sys.close(fd);
  }
});
