// BPF_MAP_TYPE_PROG_ARRAY: program slots for bpf_tail_call.
// Takes a MapHost and a size; gives slots holding opaque program objects set from JS, and the
// lookup VmEnv.tailCallTarget uses. What a program object is, is the executing tier's business.

import { BpfMap, Errno, checkSpec } from "./base.js";
import type { MapHost, MapOptions, MapType } from "./base.js";

export interface ProgArrayOptions extends MapOptions {
  maxEntries: number;
}

export class ProgArrayMap extends BpfMap {
  readonly type: MapType = "prog_array";
  private readonly progs: unknown[];

  constructor(host: MapHost, opts: ProgArrayOptions) {
    const name = opts.name ?? "prog_array";
    checkSpec("prog_array", name, Number.isInteger(opts.maxEntries) && opts.maxEntries > 0, `max entries must be > 0 (got ${opts.maxEntries})`);
    super(host, name, 4, 4, opts.maxEntries);
    this.progs = new Array<unknown>(opts.maxEntries).fill(undefined);
  }

  /** JS: store `prog` at `index`; 0 or -E2BIG past the end. */
  set(index: number, prog: unknown): number {
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`${this.name}: index ${index} is not a u32`);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (prog === undefined || prog === null) throw new TypeError(`${this.name}: a program object is required (use delete to clear a slot)`);
    this.progs[index] = prog;
    return 0;
  }

  /** JS: clear `index`; 0, -E2BIG past the end, -ENOENT if empty. */
  delete(index: number): number {
    if (index >= this.maxEntries) return -Errno.E2BIG;
    if (this.progs[index] === undefined) return -Errno.ENOENT;
    this.progs[index] = undefined;
    return 0;
  }

  /** The program at `index`, or undefined (then a tail call falls through). */
  get(index: number): unknown {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) return undefined;
    return this.progs[index];
  }
}
