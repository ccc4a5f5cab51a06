// The ranges the kernel gives some helpers' results (do_refine_retval_range): the string reads and stack dumps return
// at most their size argument, bpf_get_smp_processor_id() less than nr_cpu_ids. The model's verdicts on programs that
// index a map value with the result against the running kernel's (a kprobe program; kprobes need not be attachable).

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { verify, type MapDesc } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const FD = 1000;
const KPROBE = 2;
const LOOKUP = `r6 = r1\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:${FD}]\ncall bpf_map_lookup_elem\nif r0 != 0 goto found\nexit\nfound: r9 = r0\n`;

/** buf[n - 1] = '!' after `n = call(...)` that wrote at most 256 bytes into the 256-byte value; `minus` 0 goes one past. */
const lastByte = (call: string, minus = 1): string =>
  `${LOOKUP}${call}\nif r0 s<= 0 goto out\nr0 += -${minus}\nr1 = r9\nr1 += r0\nr2 = 33\n*(u8 *)(r1 +0) = r2\nout: r0 = 0\nexit`;

const CASES: [string, string, RegExp?][] = [
  ["bpf_probe_read_user_str", lastByte("r1 = r9\nr2 = 256\nr3 = 0\ncall bpf_probe_read_user_str")],
  ["bpf_probe_read_kernel_str", lastByte("r1 = r9\nr2 = 256\nr3 = 0\ncall bpf_probe_read_kernel_str")],
  ["bpf_probe_read_str", lastByte("r1 = r9\nr2 = 256\nr3 = 0\ncall bpf_probe_read_str")],
  ["bpf_probe_read_user_str, one past", lastByte("r1 = r9\nr2 = 256\nr3 = 0\ncall bpf_probe_read_user_str", 0), /invalid access to map value, value_size=256 off=256 size=1/],
  ["bpf_probe_read_user_str with a variable size", lastByte("call bpf_get_prandom_u32\nr2 = r0\nr2 &= 255\nr1 = r9\nr3 = 0\ncall bpf_probe_read_user_str")],
  ["bpf_get_stack", lastByte("r1 = r6\nr2 = r9\nr3 = 256\nr4 = 0\ncall bpf_get_stack")],
  ["bpf_get_task_stack", lastByte("call bpf_get_current_task_btf\nr1 = r0\nr2 = r9\nr3 = 256\nr4 = 0\ncall bpf_get_task_stack")],
  ["bpf_get_prandom_u32 is not refined", lastByte("call bpf_get_prandom_u32"), /R1 unbounded memory access|max value is outside of the allowed memory range/],
  // one u64 per possible CPU: 8 * nr_cpu_ids bytes in the 256-byte value, for the machine's count up to 32
  ["bpf_get_smp_processor_id indexes per-CPU slots", `${LOOKUP}call bpf_get_smp_processor_id\nr0 <<= 3\nr1 = r9\nr1 += r0\nr2 = 1\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit`],
];

const noBpf = missingBpf();

test("helpers' refined results: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const map = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 256, maxEntries: 1 });
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: 256, maxEntries: 1 }];
  const cases: Case[] = CASES.map(([name, text, reason]) => [name, assemble(text), reason]);
  // 256 bytes per CPU: the second CPU's slot is past the value
  if (sys.possibleCpus() > 1) cases.push(["bpf_get_smp_processor_id past the value", assemble(`${LOOKUP}call bpf_get_smp_processor_id\nr0 <<= 8\nr1 = r9\nr1 += r0\nr0 = *(u8 *)(r1 +0)\nr0 = 0\nexit`), /R1 max value is outside of the allowed memory range/]);
  try {
    assert.deepEqual(disagreements(sys, cases, { progType: KPROBE, maps }, new Map([[FD, map]])), []);
  } finally {
    sys.close(map);
  }
});

test("bpf_get_smp_processor_id() is below the nr_cpu_ids the model is given", () => {
  const text = `${LOOKUP}call bpf_get_smp_processor_id\nr0 <<= 3\nr1 = r9\nr1 += r0\nr2 = 1\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit`;
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: 256, maxEntries: 1 }];
  assert.ok(verify(assemble(text), { progType: KPROBE, maps, nrCpus: 32 }).accepted);
  assert.match(verify(assemble(text), { progType: KPROBE, maps, nrCpus: 33 }).error?.message ?? "", /invalid access to map value, value_size=256 off=256 size=8/);
});
