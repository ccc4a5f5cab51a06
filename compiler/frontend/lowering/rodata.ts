// The .rodata a file builds: deduplicated format strings and the parameters the loader may set.

import { CGROUP_PATH_PREFIX, I8, KADDR_PREFIX, TARGET_PID_VARIABLE, U32, U64, UADDR_PREFIX, type IntType, type RodataVar } from "../../ir/index.js";

/** Rodata strings, deduplicated. */
export class Rodata {
  private readonly parts: Uint8Array[] = [];
  private readonly offsets = new Map<string, number>();
  private size = 0;
  private strings = 0;
  private pid: number | undefined;
  readonly vars: RodataVar[] = [];
  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const bytes = new TextEncoder().encode(s + "\0");
    const at = this.size;
    this.parts.push(bytes);
    this.size += bytes.length;
    this.offsets.set(s, at);
    this.vars.push({ name: `__tsbpf_fmt_${this.strings++}`, offset: at, size: bytes.length, kind: "string" });
    return at;
  }
  /** Where targetPid()'s u32 is (4-byte aligned, added on first use). */
  targetPid(): number {
    return (this.pid ??= this.int(TARGET_PID_VARIABLE, U32, 0n));
  }
  private readonly kaddrs = new Map<string, number>();
  /** Where kaddr(symbol)'s u64 is, which the loader sets to the symbol's address (added on first use). */
  kaddr(symbol: string): number {
    let at = this.kaddrs.get(symbol);
    if (at === undefined) this.kaddrs.set(symbol, (at = this.int(`${KADDR_PREFIX}${symbol}`, U64, 0n)));
    return at;
  }
  private readonly uaddrs = new Map<string, number>();
  /** Where uaddr(binary, symbol)'s u64 is, which the loader sets to the symbol's address, with the names beside it. */
  uaddr(binary: string, symbol: string): number {
    const key = `${binary}\0${symbol}`;
    let at = this.uaddrs.get(key);
    if (at === undefined) {
      const k = this.uaddrs.size;
      this.uaddrs.set(key, (at = this.int(`${UADDR_PREFIX}${k}`, U64, 0n)));
      const names = new TextEncoder().encode(`${key}\0`);
      this.chars(`${UADDR_PREFIX}${k}_name`, names, names.length);
    }
    return at;
  }
  private readonly cgroupPaths = new Map<string, number>();
  /** Where cgroupId(path)'s u64 is, which the loader sets to that cgroup's id, with the path beside it. */
  cgroupPath(path: string): number {
    let at = this.cgroupPaths.get(path);
    if (at === undefined) {
      const k = this.cgroupPaths.size;
      this.cgroupPaths.set(path, (at = this.int(`${CGROUP_PATH_PREFIX}${k}`, U64, 0n)));
      const name = new TextEncoder().encode(`${path}\0`);
      this.chars(`${CGROUP_PATH_PREFIX}${k}_name`, name, name.length);
    }
    return at;
  }
  /** A global integer the loader may set (naturally aligned), holding `value` in the object; its offset. */
  int(name: string, type: IntType, value: bigint): number {
    return this.ints(name, type, [value]);
  }
  /** A global array of integers the loader may set, of `dimensions` (outermost first), holding `values` in C's order; its offset. */
  array(name: string, type: IntType, values: readonly bigint[], dimensions: readonly number[]): number {
    return this.ints(name, type, values, dimensions);
  }
  /** A global `char name[size]` the loader may set from text, holding `text` and zeros after it; its offset. */
  chars(name: string, text: Uint8Array, size: number): number {
    const bytes = new Uint8Array(size);
    bytes.set(text);
    const at = this.place(bytes, 1);
    this.vars.push({ name, offset: at, size, kind: "int", type: I8, dimensions: [size], chars: true });
    return at;
  }
  private ints(name: string, type: IntType, values: readonly bigint[], dimensions?: readonly number[]): number {
    const size = type.bits / 8;
    const bytes = new Uint8Array(size * values.length);
    values.forEach((value, at) => {
      for (let i = 0; i < size; i++) bytes[at * size + i] = Number((BigInt.asUintN(type.bits, value) >> BigInt(8 * i)) & 0xffn);
    });
    const at = this.place(bytes, size);
    this.vars.push({ name, offset: at, size: bytes.length, kind: "int", type, ...(dimensions && { dimensions }) });
    return at;
  }
  /** `bytes` placed aligned to `alignment` (an integer's natural alignment); their offset. */
  private place(bytes: Uint8Array, alignment: number): number {
    const padding = (alignment - (this.size % alignment)) % alignment;
    if (padding) this.parts.push(new Uint8Array(padding));
    const at = this.size + padding;
    this.parts.push(bytes);
    this.size = at + bytes.length;
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) (out.set(p, at), (at += p.length));
    return out;
  }
}
