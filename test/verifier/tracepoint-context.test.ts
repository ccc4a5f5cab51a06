// A tracepoint program's context is the trace record, readable up to PERF_MAX_TRACE_SIZE (8192 bytes in Linux 6.18,
// tp_prog_is_valid_access): the model's verdicts on reads and writes at its edges against the running kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { ProgTypeId } from "../../compiler/verifier/index.js";
import { missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const read = (size: string, off: number): string => `r0 = *(${size} *)(r1 +${off})\nr0 = 0\nexit`;
const REFUSED = /invalid bpf_context access/;

const CASES: Case[] = [
  ["u64 at 8", assemble(read("u64", 8))],
  ["u64 at 2048, past the old limit", assemble(read("u64", 2048))],
  ["u32 at 4096", assemble(read("u32", 4096))],
  ["u64 at 8184, the record's last", assemble(read("u64", 8184))],
  ["u8 at 8191", assemble(read("u8", 8191))],
  ["u64 at 8192, past the record", assemble(read("u64", 8192)), REFUSED],
  ["u8 at 8192", assemble(read("u8", 8192)), REFUSED],
  ["u32 at 4, in the common header", assemble(read("u32", 4)), REFUSED],
  ["u64 at 8188, misaligned", assemble(read("u64", 8188)), REFUSED],
  ["a write at 16", assemble("r2 = 1\n*(u64 *)(r1 +16) = r2\nr0 = 0\nexit"), REFUSED],
];

const noBpf = missingBpf();

test("tracepoint context reads up to 8192 bytes: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  assert.deepEqual(disagreements(openSys(), CASES, { progType: ProgTypeId.tracepoint }), []);
});
