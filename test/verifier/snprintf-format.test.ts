// bpf_snprintf's format is checked at load (the kernel's check_bpf_snprintf_call): the model's verdict and reason on
// each format and data length against the running kernel's, the format in a frozen read-only array as `.rodata` is.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { verify, type MapDesc } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, type Sys, disagreements, kernelVerdict } from "./kernel-compare.js";

const FD = 1000;
const VALUE_SIZE = 64;
const RDONLY_PROG = 1 << 7;

/** Format, data_len in bytes (u64 arguments * 8), and for rejections a piece of the reason both must give. */
const CASES: [string, number, RegExp?][] = [
  ["fd=%d n=%lu x=%d", 16, /Invalid format string/],
  ["fd=%d n=%lu x=%d", 24],
  ["fewer conversions than arguments %d", 24],
  ["no conversion at all", 0],
  ["%%d is not a conversion", 0],
  ["%q", 8, /Invalid format string/],
  ["%o", 8, /Invalid format string/],
  ["%hd", 8, /Invalid format string/],
  ["%.3d", 8, /Invalid format string/],
  ["%n", 8, /Invalid format string/],
  ["%-08d|%+5i|% llx|%X|%llu", 40],
  ["%c%s", 16],
  ["%sx", 8, /Invalid format string/],
  ["%s!", 8],
  ["%p %pK %px %ps %pS %pB", 48],
  ["%pI4 %pi6", 16],
  ["%pI5", 8, /Invalid format string/],
  ["%pM", 8, /Invalid format string/],
  ["%pks %pus", 16],
  ["tab\tand newline\n %d", 8],
  ["bell\x07", 0, /Invalid format string/],
  ["%d", 12],
  ["%d", 4],
];

/** The formats one after another, each NUL-terminated, and where each starts. */
function layout(): { bytes: Uint8Array; offsets: number[] } {
  const bytes = new Uint8Array(VALUE_SIZE * CASES.length);
  const offsets = CASES.map(([fmt], i) => {
    bytes.set(new TextEncoder().encode(fmt), i * VALUE_SIZE);
    return i * VALUE_SIZE;
  });
  return { bytes, offsets };
}

/** bpf_snprintf(out = fp-32, 32, fmt, args = fp-128 (12 zeroed u64), dataLen). */
function program(off: number, dataLen: number): string {
  const zero = Array.from({ length: 12 }, (_, k) => `*(u64 *)(r10 ${-128 + 8 * k}) = 0`).join("\n");
  return `${zero}\nr1 = r10\nr1 += -32\nr2 = 32\nr3 = map[fd:${FD}][0]+${off}\nr4 = r10\nr4 += -128\nr5 = ${dataLen}\ncall bpf_snprintf\nr0 = 0\nexit`;
}

const noBpf = missingBpf();

/** An array map holding `bytes`, read-only to programs and frozen, as loaders make `.rodata`. */
function rodata(sys: Sys, bytes: Uint8Array): number {
  const fd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: bytes.length, maxEntries: 1, flags: RDONLY_PROG });
  sys.mapUpdate(fd, new Uint8Array(4), bytes);
  sys.mapFreeze(fd);
  return fd;
}

test("bpf_snprintf's format and data length: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const { bytes, offsets } = layout();
  const fd = rodata(sys, bytes);
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: bytes.length, maxEntries: 1, flags: RDONLY_PROG, frozen: bytes }];
  // a data_len that is not a multiple of 8 the kernel refuses without a message of its own
  const cases: Case[] = CASES.map(([fmt, dataLen, reason], i) => [`${JSON.stringify(fmt)} with ${dataLen} bytes`, assemble(program(offsets[i]!, dataLen)), dataLen % 8 ? null : reason]);
  try {
    assert.deepEqual(disagreements(sys, cases, { progType: 1, maps }, new Map([[FD, fd]])), []);
  } finally {
    sys.close(fd);
  }
});

test("a format without a NUL before the end of the map value is refused, as the kernel does", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const bytes = new TextEncoder().encode("%d%d%d%d");
  const fd = rodata(sys, bytes);
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: bytes.length, maxEntries: 1, flags: RDONLY_PROG, frozen: bytes }];
  const insns = assemble(program(0, 8));
  try {
    assert.match(kernelVerdict(sys, insns, 1, new Map([[FD, fd]])).why, /string is not zero-terminated/);
  } finally {
    sys.close(fd);
  }
  assert.equal(verify(insns, { progType: 1, maps }).error?.message, "string is not zero-terminated");
});

test("without the frozen contents the format is not judged", () => {
  const maps: MapDesc[] = [{ fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 1, flags: RDONLY_PROG }];
  assert.ok(verify(assemble(program(0, 8)), { progType: 1, maps }).accepted);
});
