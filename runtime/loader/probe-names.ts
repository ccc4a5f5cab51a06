// The names probe() reads as ids (bpftrace's `probe`): `tracepoint:syscalls:sys_enter_read`, `uprobe:/usr/bin/bash:readline`.
// Takes a probe's name as the loader attaches it; gives its id, which goes into the high half of the attach cookie of
// a program tagged tsbpf:probe (compiler/btf/tags.ts), and back the name of an id, as decoding a `tsbpf_probe` value
// does. One table per process, so that ids from every object and session in it stay distinct.

import { PROBE_ID_SHIFT } from "../../compiler/btf/tags.js";

const ids = new Map<string, number>();
const names: string[] = [];

/** The id of a probe's name, given once per name, from 1 (0 is what a program attached without one reads). */
export function probeId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    names.push(name);
    id = names.length;
    ids.set(name, id);
  }
  return id;
}

/** The name of an id probeId() gave, or undefined. */
export function probeName(id: number): string | undefined {
  return names[id - 1];
}

/** The attach cookie for a place named `name`: its id in the high half, `low` (a USDT site's spec id) in the low. */
export const probeCookie = (name: string, low = 0): bigint => (BigInt(probeId(name)) << BigInt(PROBE_ID_SHIFT)) | BigInt(low >>> 0);
