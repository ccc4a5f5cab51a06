// A pointer the kernel knows is never NULL (reg_not_null) compared with 0: is_branch_taken decides `==` and `!=`, in
// the 64-bit and the 32-bit form alike, and the side not taken is never checked. The model's verdicts against the
// running kernel's; each dead side reads past the stack, so checking it refuses the program.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { type MapDesc, ProgTypeId, verify } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const ARRAY: MapDesc = { fd: 1000, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 };
const RINGBUF: MapDesc = { fd: 1001, type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 };
const OPTIONS = { progType: ProgTypeId.socket_filter, maps: [ARRAY, RINGBUF] };

/** Reads 8 bytes above the frame: refused wherever it is checked. */
const DEAD = "r0 = *(u64 *)(r10 + 8)";
const STACK = /invalid read from stack R10 off=8 size=8/;
const LOOKUP = "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = map[fd:1000]\ncall bpf_map_lookup_elem\nif r0 == 0 goto out\n";
/** The map value pointer, known non-NULL, compared by `cond` (jumping to `out`); the fall-through reads its 8 bytes at 8. */
const value = (cond: string): string => `${LOOKUP}${cond}\nr0 = *(u64 *)(r0 + 8)\nout: r0 = 0\nexit`;
const VALUE_OOB = /invalid access to map value, value_size=8 off=8 size=8/;

const CASES: Case[] = [
  ["a map pointer != 0", assemble(`r1 = map[fd:1000]\nif r1 != 0 goto +1\n${DEAD}\nr0 = 0\nexit`)],
  ["a map pointer == 0", assemble(`r1 = map[fd:1000]\nif r1 == 0 goto +2\nr0 = 0\nexit\n${DEAD}\nexit`)],
  ["a map pointer's low half != 0", assemble(`r1 = map[fd:1000]\nif w1 != 0 goto +1\n${DEAD}\nr0 = 0\nexit`)],
  ["0 != a map pointer", assemble(`r1 = map[fd:1000]\nr2 = 0\nif r2 != r1 goto +1\n${DEAD}\nr0 = 0\nexit`)],
  ["a map pointer > 0", assemble(`r1 = map[fd:1000]\nif r1 > 0 goto +1\n${DEAD}\nr0 = 0\nexit`), STACK],
  ["the stack pointer != 0", assemble(`r1 = r10\nif r1 != 0 goto +1\n${DEAD}\nr0 = 0\nexit`), STACK],
  ["the context != 0", assemble(`if r1 != 0 goto +1\n${DEAD}\nr0 = 0\nexit`), STACK],
  ["a map value != 0", assemble(value("if r0 != 0 goto out"))],
  ["0 == a map value", assemble(`${LOOKUP}r2 = 0\nif r2 == r0 goto +1\ngoto out\nr0 = *(u64 *)(r0 + 8)\nout: r0 = 0\nexit`)],
  ["a map value's low half != 0", assemble(value("if w0 != 0 goto out"))],
  ["a map value's low half == 0", assemble(`${LOOKUP}if w0 == 0 goto +1\ngoto out\nr0 = *(u64 *)(r0 + 8)\nout: r0 = 0\nexit`)],
  ["a map value's low half != a register holding 1 << 32", assemble(value("r2 = 0x100000000 ll\nif w0 != w2 goto out"))],
  ["a map value != a register holding 1 << 32", assemble(value("r2 = 0x100000000 ll\nif r0 != r2 goto out")), VALUE_OOB],
  ["a map value != 1", assemble(value("if r0 != 1 goto out")), VALUE_OOB],
  ["a map value's low half != 1", assemble(value("if w0 != 1 goto out")), VALUE_OOB],
  ["a map value's low half > 0", assemble(value("if w0 > 0 goto out")), VALUE_OOB],
  ["a map value's low half s> 0", assemble(value("if w0 s> 0 goto out")), VALUE_OOB],
  [
    "a ring buffer record's low half != 0",
    assemble(`r1 = map[fd:1001]\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\nif w0 != 0 goto +1\n${DEAD}\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nout: r0 = 0\nexit`),
  ],
];

test("a never-NULL pointer compared with 0 decides the branch, in 32 bits as in 64, a map pointer too", () => {
  const verdicts = CASES.map(([name, insns, reason]) => {
    const r = verify(insns, OPTIONS);
    return [name, r.accepted ? "accepts" : r.error!.message, reason === undefined ? "accepts" : reason!.source];
  });
  for (const [name, said, expected] of verdicts) {
    if (expected === "accepts") assert.equal(said, "accepts", name);
    else assert.match(said, new RegExp(expected!), name);
  }
});

const noBpf = missingBpf();

test("never-NULL pointers compared with constants: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const array = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
  const ringbuf = sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
  try {
    assert.deepEqual(disagreements(sys, CASES, OPTIONS, new Map([[ARRAY.fd, array], [RINGBUF.fd, ringbuf]])), []);
  } finally {
    sys.close(array);
    sys.close(ringbuf);
  }
});
