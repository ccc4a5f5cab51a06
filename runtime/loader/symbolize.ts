// Kernel addresses to `function+offset`, as bpftrace prints a kstack, from /proc/kallsyms text. Takes the text
// (read by the caller: it is 10+ MB and needs root to show addresses); gives a function naming each address, and
// ksymName(), the function alone as bpftrace's ksym() prints it, from this host's kallsyms read once.

import { readFileSync } from "node:fs";

/** The frames of a stack trace map value: u64 instruction pointers up to the first zero. */
export function stackFrames(value: Uint8Array): bigint[] {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: bigint[] = [];
  for (let at = 0; at + 8 <= value.byteLength; at += 8) {
    const ip = view.getBigUint64(at, true);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}

/**
 * `name+offset` (decimal, as bpftrace prints it) for addresses inside the kernel's text symbols; other
 * addresses (user space, or no symbol at or below them) as hex. Addresses all zero (kptr_restrict hides them)
 * name nothing.
 */
export function kernelSymbolizer(kallsyms: string, offsets = true): (address: bigint) => string {
  const symbols: [address: bigint, name: string][] = [];
  for (const line of kallsyms.split("\n")) {
    const [addr, type, name] = line.split(/\s+/, 3);
    if (!addr || !name || !type || !"tTwW".includes(type)) continue;
    const a = BigInt(`0x${addr}`);
    if (a !== 0n) symbols.push([a, name]);
  }
  symbols.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return (address) => {
    // The last symbol at or below the address.
    let lo = 0;
    let hi = symbols.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (symbols[mid]![0] <= address) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const hex = `0x${address.toString(16)}`;
    if (found < 0 || address < KERNEL_SPACE) return hex;
    const [start, name] = symbols[found]!;
    return offsets ? `${name}+${address - start}` : name;
  };
}

/** /proc/kallsyms, or nothing where it cannot be read (addresses then print in hex). */
export function readKallsyms(): string {
  try {
    return readFileSync("/proc/kallsyms", "latin1");
  } catch {
    return "";
  }
}

let ksymNamer: ((address: bigint) => string) | undefined;

/** The kernel function an address is in (bpftrace's ksym(): `vmstat_update`), or the address in hex. */
export function ksymName(address: bigint): string {
  ksymNamer ??= kernelSymbolizer(readKallsyms(), false);
  return ksymNamer(address);
}

/**
 * The addresses of kernel symbols `names` in kallsyms text (bpftrace's kaddr()): each name's first line of any type, a
 * variable's too; a name listed only with an address of 0 (kptr_restrict hides them from users without root) maps to 0n.
 */
export function kallsymsAddresses(kallsyms: string, names: Iterable<string>): Map<string, bigint> {
  const wanted = new Set(names);
  const out = new Map<string, bigint>();
  for (let at = 0; at < kallsyms.length && out.size < wanted.size; ) {
    let end = kallsyms.indexOf("\n", at);
    if (end < 0) end = kallsyms.length;
    // `ffffffff81000000 T _stext`, and ` [module]` after a module's symbols.
    const line = kallsyms.slice(at, end);
    at = end + 1;
    const [addr, , name] = line.split(/\s+/, 3);
    if (name && wanted.has(name) && addr && !out.has(name)) out.set(name, BigInt(`0x${addr}`));
  }
  return out;
}

/** x86-64 and arm64 kernels live in the top half of the address space; user stacks below it. */
const KERNEL_SPACE = 0x8000_0000_0000_0000n;
