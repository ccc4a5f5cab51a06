// A tail call from a subprogram unwinds only that subprogram's frame, so Linux (check_max_stack_depth_subprog) holds
// the frames of its callers to less than 256 bytes, each rounded up to 16 as the JIT rounds it. The model's verdicts
// on chains of frames around that limit against the running kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { type MapDesc, ProgTypeId, verify } from "../../compiler/verifier/index.js";
import { VerifierCode, explainRejection } from "../../compiler/verify-programs.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const FD = 1000;
const MAPS: MapDesc[] = [{ fd: FD, type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }];
const TAIL_CALL = `r1 = r6\nr2 = map[fd:${FD}]\nr3 = 0\ncall bpf_tail_call\n`;

/** main, then each subprogram in turn, touching the stack down to the given depths; the last one tail calls. */
function chain(...depths: number[]): string {
  return depths
    .map((depth, i) => {
      const next = i + 1 < depths.length ? `r1 = r6\ncall f${i + 1}\n` : TAIL_CALL;
      return `${i === 0 ? "" : `f${i}: `}r6 = r1\n*(u64 *)(r10 -${depth}) = 0\n${next}r0 = 0\nexit`;
    })
    .join("\n");
}
const tooLarge = (bytes: number) => new RegExp(`tail_calls are not allowed when call stack of previous frames is ${bytes} bytes\\. Too large`);

const CASES: Case[] = [
  ["a 224-byte main", assemble(chain(224, 64))],
  ["a 240-byte main", assemble(chain(240, 64))],
  ["a 248-byte main, 256 rounded", assemble(chain(248, 64)), tooLarge(256)],
  ["a 256-byte main", assemble(chain(256, 64)), tooLarge(256)],
  ["a 264-byte main, 272 rounded", assemble(chain(264, 64)), tooLarge(272)],
  ["a 304-byte main calling a 64-byte frame", assemble(chain(304, 8)), tooLarge(304)],
  ["frames of 128 and 112 bytes before the tail call", assemble(chain(128, 112, 64))],
  ["frames of 128 and 128 bytes before the tail call", assemble(chain(128, 128, 8)), tooLarge(256)],
  ["the tail calling frame's own 448 bytes do not count", assemble(chain(32, 448))],
  ["a tail call in main under a 512-byte frame", assemble(`r6 = r1\n*(u64 *)(r10 -512) = 0\n${TAIL_CALL}r0 = 0\nexit`)],
];

test("a tail call from a subprogram whose callers' frames reach 256 bytes is refused with the kernel's words", () => {
  const r = verify(assemble(chain(304, 8)), { progType: ProgTypeId.tracepoint, maps: MAPS });
  assert.equal(r.accepted, false);
  assert.equal(r.error!.pc, 12, r.error!.message);
  assert.equal(r.error!.message, "tail_calls are not allowed when call stack of previous frames is 304 bytes. Too large");
  assert.equal(verify(assemble(chain(240, 64)), { progType: ProgTypeId.tracepoint, maps: MAPS }).accepted, true);
});

test("the rejection is explained as the callers' stack under a tail call, not as 512 bytes", () => {
  const insns = assemble(chain(304, 8));
  const r = verify(insns, { progType: ProgTypeId.tracepoint, maps: MAPS });
  const explained = explainRejection(insns, r.error!, ProgTypeId.tracepoint, () => ({ file: "p.c", line: 4, column: 5, text: "    bpf_tail_call(ctx, &jt, 0);" }));
  assert.equal(explained.code, VerifierCode.Stack);
  assert.match(explained.sentence, /^`bpf_tail_call\(ctx, &jt, 0\)` is a tail call from a function whose callers hold 304 bytes of stack; the kernel allows less than 256 there/);
});

const noBpf = missingBpf();

test("tail calls under callers' frames around 256 bytes: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const problems: string[] = [];
  for (const type of [ProgTypeId.tracepoint, ProgTypeId.socket_filter, ProgTypeId.xdp]) {
    // A program array takes the type of the first program loaded with it: one each.
    const progArray = sys.mapCreate({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      problems.push(...disagreements(sys, CASES, { progType: type, maps: MAPS }, new Map([[FD, progArray]]), true).map((p) => `type ${type}: ${p}`));
    } finally {
      sys.close(progArray);
    }
  }
  assert.deepEqual(problems, []);
});
