// The kernel's instruction-array verifier selftests as test data: loading, the maps their
// fixups name (shapes as the kernel's test_verifier.c creates them), and load flags.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Insn } from "../../compiler/isa/index.js";
import type { MapDesc, VerifyOptions } from "../../compiler/verifier/index.js";
import { BtfBuilder, BtfIntEncoding, BtfKind, encodeKernelInfo, parseBtf } from "../../compiler/btf/index.js";

/** The project's shared/ folder sits beside the repository (as CI lays it out); TSBPF_SHARED overrides. */
const SELFTESTS_FILE = "testdata/kernel-verifier-selftests-6.12.json";
export const SELFTESTS_PATH = [
  process.env.TSBPF_SHARED,
  fileURLToPath(new URL("../../../shared", import.meta.url)),
  "/work/shared",
]
  .filter((dir): dir is string => dir !== undefined)
  .map((dir) => `${dir}/${SELFTESTS_FILE}`)
  .find((path) => existsSync(path)) ?? `../shared/${SELFTESTS_FILE}`;

export interface SelftestCase {
  descr: string;
  result: string;
  prog_type: number;
  expected_attach_type: number;
  flags: number;
  fill_helper: boolean;
  /** Instruction index (or indices) per fixup name. */
  fixups: Record<string, number | number[]>;
  kfunc: string;
  func_info: unknown[];
  insns: [number, number, number, number, number][];
  kernel_6_18: { accepted: boolean; errno: number; log_tail: string } | null;
}

export function loadSelftests(): SelftestCase[] {
  return JSON.parse(readFileSync(SELFTESTS_PATH, "utf8")) as SelftestCase[];
}

export const toInsns = (c: SelftestCase): Insn[] => c.insns.map(([code, dst, src, off, imm]) => ({ code, dst, src, off, imm }));

/** Map shapes of the fixups we model; map types: 1 hash, 2 array, 4 perf event array, 27 ring buffer. */
export const FIXUP_MAPS: Record<string, Omit<MapDesc, "fd">> = {
  fixup_map_hash_8b: { type: 1, keySize: 8, valueSize: 8, maxEntries: 1, flags: 1 },
  fixup_map_hash_16b: { type: 1, keySize: 8, valueSize: 16, maxEntries: 1, flags: 1 },
  fixup_map_hash_48b: { type: 1, keySize: 8, valueSize: 48, maxEntries: 1, flags: 1 },
  fixup_map_array_48b: { type: 2, keySize: 4, valueSize: 48, maxEntries: 1 },
  fixup_map_array_small: { type: 2, keySize: 4, valueSize: 1, maxEntries: 1 },
  fixup_map_event_output: { type: 4, keySize: 4, valueSize: 4, maxEntries: 1 },
  fixup_map_ringbuf: { type: 27, keySize: 0, valueSize: 0, maxEntries: 4096 },
};

/** Needs nothing beyond its instructions. */
export const isPlain = (c: SelftestCase): boolean =>
  !c.fill_helper && !c.kfunc && c.func_info.length === 0 && Object.keys(c.fixups).length === 0;

/** Needs only maps we can describe (no kfunc, BTF func info, generated instructions or kptr maps). */
export const isMapCase = (c: SelftestCase): boolean =>
  !c.fill_helper && !c.kfunc && c.func_info.length === 0 && Object.keys(c.fixups).length > 0 &&
  Object.keys(c.fixups).every((f) => f in FIXUP_MAPS);

/** The case's instructions with each fixup's imm set to the fd `fdFor(fixup)` gives. */
export function withFixups(c: SelftestCase, fdFor: (fixup: string) => number): Insn[] {
  const insns = toInsns(c);
  for (const [name, indices] of Object.entries(c.fixups)) {
    const fd = fdFor(name);
    for (const i of typeof indices === "number" ? [indices] : indices) insns[i] = { ...insns[i]!, imm: fd };
  }
  return insns;
}

/** The model's maps for a case: a fake fd per fixup name, from 1000 up. */
export function modelMaps(c: SelftestCase): { maps: MapDesc[]; fdFor: (fixup: string) => number } {
  const names = Object.keys(c.fixups);
  const maps = names.map((name, i) => ({ fd: 1000 + i, ...FIXUP_MAPS[name]! }));
  return { maps, fdFor: (name) => 1000 + names.indexOf(name) };
}

/** BPF_PROG_LOAD prog_flags from the harness flags (bit 0 any alignment, bit 1 strict, higher passed on). */
export const progFlags = (c: SelftestCase): number => (c.flags & 1 ? 2 : 0) | (c.flags & 2 ? 1 : 0) | (c.flags & ~7);

/** The model's options for a case. */
export const modelFlags = (c: SelftestCase): number => (c.flags & 2 ? 1 : 0);

/** Needs only the BTF the bpf_loop selftests share (their func_info names its FUNCs: 6 main, 7 callback). */
export const isFuncInfoCase = (c: SelftestCase): boolean =>
  !c.fill_helper && !c.kfunc && c.func_info.length > 0 && Object.keys(c.fixups).length === 0;

/**
 * The BTF of test_verifier's bpf_loop cases (verifier/bpf_loop_inline.c), type for type: [1] int, [2] int *, [3] void *,
 * [4] int (void *ctx), [5] int (int i, int *ctx), [6] static main of [4], [7] static callback of [5].
 */
export function bpfLoopBtf(c: SelftestCase): { data: Uint8Array; functions: NonNullable<VerifyOptions["functions"]>; funcInfo: ReturnType<typeof encodeKernelInfo> } {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const intPtr = b.add({ kind: BtfKind.PTR, name: "", type: int });
  const voidPtr = b.add({ kind: BtfKind.PTR, name: "", type: 0 });
  const mainProto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "ctx", type: voidPtr }] });
  const cbProto = b.add({ kind: BtfKind.FUNC_PROTO, name: "", returnType: int, params: [{ name: "i", type: int }, { name: "ctx", type: intPtr }] });
  b.add({ kind: BtfKind.FUNC, name: "main", type: mainProto, linkage: 0 });
  b.add({ kind: BtfKind.FUNC, name: "callback", type: cbProto, linkage: 0 });
  const data = b.toBytes();
  const info = (c.func_info as [number, number][]).map(([insn, typeId]) => ({ insn, typeId }));
  return { data, functions: { btf: parseBtf(data), funcInfo: info }, funcInfo: encodeKernelInfo(8, info.map((f) => [f.insn, f.typeId])) };
}
