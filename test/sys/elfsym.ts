// Test helper: the file offset of a dynamic symbol in a shared library, for uprobes.
// Takes an ELF64 little-endian file path and a symbol name; gives the offset perf's uprobe PMU wants.

import { readFileSync } from "node:fs";

/** The path of the libc this process has mapped (from /proc/self/maps). */
export function libcPath(): string {
  const line = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .find((l) => /\/libc[.-][^/]*\.so[^/]*$|\/libc\.so\.6$/.test(l));
  if (!line) throw new Error("libc is not mapped into this process");
  return line.slice(line.indexOf("/"));
}

/** File offset of `name` in .dynsym: st_value translated through the PT_LOAD segment that holds it. */
export function symbolFileOffset(path: string, name: string): number {
  const f = readFileSync(path);
  if (f.readUInt32BE(0) !== 0x7f454c46 || f[4] !== 2 || f[5] !== 1) throw new Error(`${path} is not a little-endian ELF64 file`);
  const shoff = Number(f.readBigUInt64LE(0x28));
  const shentsize = f.readUInt16LE(0x3a);
  const shnum = f.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { type: f.readUInt32LE(at + 4), offset: Number(f.readBigUInt64LE(at + 0x18)), size: Number(f.readBigUInt64LE(at + 0x20)), link: f.readUInt32LE(at + 0x28), entsize: Number(f.readBigUInt64LE(at + 0x38)) };
  };
  let value: bigint | undefined;
  for (let i = 0; i < shnum && value === undefined; i++) {
    const s = section(i);
    if (s.type !== 11) continue; // SHT_DYNSYM
    const strtab = section(s.link);
    for (let at = s.offset; at < s.offset + s.size; at += s.entsize) {
      const nameOff = f.readUInt32LE(at);
      const end = f.indexOf(0, strtab.offset + nameOff);
      if (f.toString("latin1", strtab.offset + nameOff, end) !== name) continue;
      if (f.readUInt16LE(at + 6) === 0) continue; // undefined (imported) symbol
      value = f.readBigUInt64LE(at + 8);
      break;
    }
  }
  if (value === undefined) throw new Error(`${name} is not in the dynamic symbols of ${path}`);
  const phoff = Number(f.readBigUInt64LE(0x20));
  const phentsize = f.readUInt16LE(0x36);
  const phnum = f.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (f.readUInt32LE(at) !== 1) continue; // PT_LOAD
    const offset = f.readBigUInt64LE(at + 8);
    const vaddr = f.readBigUInt64LE(at + 16);
    const filesz = f.readBigUInt64LE(at + 32);
    if (value >= vaddr && value < vaddr + filesz) return Number(value - vaddr + offset);
  }
  throw new Error(`${name} at 0x${value.toString(16)} is in no PT_LOAD segment of ${path}`);
}
