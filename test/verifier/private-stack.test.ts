// Private stacks (Linux 6.18 on x86-64, bpf_enable_priv_stack): tracing program types give a frame of 64 bytes or more
// a stack of its own, so a call chain is no longer held to 512 bytes in all, unless the program has a tail call. The
// model's verdicts on the same chains of frames as each program type against the running kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { type MapDesc, ProgTypeId } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const FD = 1000;

/** main calls f1 calls f2, each touching the stack down to the given depth; `prefix` runs first in main. */
function chain(depths: [number, number, number], prefix = ""): string {
  const [a, b, c] = depths;
  return `r6 = r1\n${prefix}*(u64 *)(r10 -${a}) = 0\ncall f1\nr0 = 0\nexit\nf1: *(u64 *)(r10 -${b}) = 0\ncall f2\nr0 = 0\nexit\nf2: *(u64 *)(r10 -${c}) = 0\nr0 = 0\nexit`;
}
const TAIL_CALL = `r1 = r6\nr2 = map[fd:${FD}]\nr3 = 0\ncall bpf_tail_call\n`;
const TOO_LARGE = /combined stack size of 3 calls is 576\. Too large/;

function cases(tracing: boolean): Case[] {
  return [
    ["frames of 112, 208 and 256 bytes", assemble(chain([104, 200, 256])), tracing ? undefined : TOO_LARGE],
    ["the same with a tail call in main", assemble(chain([104, 200, 256], TAIL_CALL)), TOO_LARGE],
    // 48-byte frames stay on the shared stack: 512 + 0 + 0 for main's private one, else 512 + 48 + 48
    ["a 512-byte main calling two 48-byte frames", assemble(chain([512, 48, 48])), tracing ? undefined : /combined stack size of 2 calls is 560\. Too large/],
    ["frames of 48, 48 and 400 bytes, 496 in all", assemble(chain([48, 48, 400]))],
  ];
}

const noBpf = missingBpf();

test("private stacks per program type: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const progArray = sys.mapCreate({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  const maps: MapDesc[] = [{ fd: FD, type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }];
  const problems: string[] = [];
  try {
    for (const [type, tracing] of [[ProgTypeId.kprobe, true], [ProgTypeId.tracepoint, true], [ProgTypeId.perf_event, true], [ProgTypeId.raw_tracepoint, true], [ProgTypeId.xdp, false], [ProgTypeId.socket_filter, false]] as const) {
      problems.push(...disagreements(sys, cases(tracing), { progType: type, maps }, new Map([[FD, progArray]])).map((p) => `type ${type}: ${p}`));
    }
  } finally {
    sys.close(progArray);
  }
  assert.deepEqual(problems, []);
});
