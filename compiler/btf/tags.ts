// tsbpf's BTF declaration tags on `.maps` variables: what a map carries beyond its key and value, so that a
// reader of any object (tsbpf's, or clang's with `__attribute__((btf_decl_tag("tsbpf:event=struct event")))`
// on the map) decodes ring buffer records and perf samples by type, prints histograms as histograms and leaves a probe's
// bookkeeping maps out of what it prints.
// The kernel and libbpf load objects with them unchanged (decl tags exist since Linux 5.16).
import type { Btf } from "./parse.js";
import { BtfKind } from "./types.js";

/** `tsbpf:event=<C type name>`: the records of a ring buffer or perf event array are of this type. */
export const EVENT_TAG = "tsbpf:event=";
/** `tsbpf:histogram=log2`: an array map in the Histogram slot layout (runtime/loader/histogram.ts). */
export const HISTOGRAM_TAG = "tsbpf:histogram=log2";
/** `tsbpf:histogram=linear:MIN:MAX:STEP`: an array map in the LinearHistogram slot layout. */
export const LINEAR_HISTOGRAM_TAG = "tsbpf:histogram=linear:";
export const linearHistogramTag = (l: { min: bigint; max: bigint; step: bigint }): string => `${LINEAR_HISTOGRAM_TAG}${l.min}:${l.max}:${l.step}`;
/** `tsbpf:internal`: the probe's own bookkeeping (a map its file does not export), not printed at exit. */
export const INTERNAL_TAG = "tsbpf:internal";
/**
 * `tsbpf:stacks`: the stack trace map that stack ids typed `tsbpf_kstack` or `tsbpf_ustack` (in other maps' keys and
 * values) refer to; readers print the frames an id names in its place.
 */
export const STACKS_TAG = "tsbpf:stacks";
/** A typedef of `long long`: bpf_get_stackid()'s id of a kernel stack (negative: none was taken). */
export const KERNEL_STACK_TYPEDEF = "tsbpf_kstack";
/**
 * A typedef of `unsigned long long`: the process's tgid in the high 32 bits, bpf_get_stackid(BPF_F_USER_STACK)'s id
 * (an s32, negative: none was taken) in the low. A tagged map with BPF_F_STACK_BUILD_ID holds them if there is one
 * (frames named by build id), else the tagged map (frames as ips, named through the process's mappings).
 */
export const USER_STACK_TYPEDEF = "tsbpf_ustack";

export interface MapTags {
  /** The BTF id of the event type, when tagged and found. */
  event?: number;
  histogram?: boolean;
  /** A LinearHistogram's bounds. */
  linear?: { min: number; max: number; step: number };
  internal?: boolean;
  stacks?: boolean;
}

/** The tags on variable `varId`, with the event type name resolved in the same BTF. */
export function mapTags(btf: Btf, varId: number): MapTags {
  const out: MapTags = {};
  for (const t of btf.types()) {
    if (t.kind !== BtfKind.DECL_TAG || t.type !== varId || t.componentIdx !== -1) continue;
    if (t.name === HISTOGRAM_TAG) out.histogram = true;
    else if (t.name === INTERNAL_TAG) out.internal = true;
    else if (t.name === STACKS_TAG) out.stacks = true;
    else if (t.name.startsWith(LINEAR_HISTOGRAM_TAG)) {
      const [min, max, step] = t.name.slice(LINEAR_HISTOGRAM_TAG.length).split(":").map(Number);
      if (Number.isSafeInteger(min) && Number.isSafeInteger(max) && Number.isSafeInteger(step) && step! > 0) out.linear = { min: min!, max: max!, step: step! };
    }
    else if (t.name.startsWith(EVENT_TAG)) out.event = typeByCName(btf, t.name.slice(EVENT_TAG.length).trim());
  }
  return out;
}

/** A type by its C spelling: `struct X`, `union X`, `enum X`, or a typedef or base type name. */
function typeByCName(btf: Btf, name: string): number | undefined {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(name);
  const kinds = m
    ? m[1] === "struct" ? [BtfKind.STRUCT] : m[1] === "union" ? [BtfKind.UNION] : [BtfKind.ENUM, BtfKind.ENUM64]
    : [BtfKind.TYPEDEF, BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.FLOAT];
  const bare = m ? m[2]! : name;
  for (const kind of kinds) {
    const t = btf.find(bare, kind);
    if (t) return t.id;
  }
  return undefined;
}
