// Test helpers for compiler/btf: bpftool's raw BTF dump (parsed into records and re-created from
// our model for line-by-line comparison), fixture compilation and the kernel's vmlinux BTF.
// Takes object/BTF paths; gives dumps, formatted lines and compiled fixtures.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BPFTOOL, CLANG, mustRun } from "../elf/oracle.js";
import { BtfKind, btfKindName, type Btf, type BtfType } from "../../compiler/btf/index.js";

export { BPFTOOL, CLANG, OBJDUMP, READELF, mustRun, run, tempDir, removeDir, readBytes } from "../elf/oracle.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
export const VMLINUX = "/sys/kernel/btf/vmlinux";

export const missingVmlinux = existsSync(VMLINUX) ? undefined : "no /sys/kernel/btf/vmlinux";
export const missingBpftool = BPFTOOL ? undefined : "bpftool is not installed";
export const missingClang = CLANG ? undefined : "clang-19 is not installed";

let vmBytes: Uint8Array | undefined;
export function vmlinuxBytes(): Uint8Array {
  return (vmBytes ??= new Uint8Array(readFileSync(VMLINUX)));
}

/** `bpftool btf dump file <path> format raw` split into records: header line and its indented lines. */
export function bpftoolRaw(path: string): Map<number, string[]> {
  const out = mustRun(BPFTOOL!, ["btf", "dump", "file", path, "format", "raw"]);
  const records = new Map<number, string[]>();
  let cur: string[] | undefined;
  for (const line of out.split("\n")) {
    const m = /^\[(\d+)\] /.exec(line);
    if (m) records.set(Number(m[1]), (cur = [line]));
    else if (line.startsWith("\t") && cur) cur.push(line);
  }
  return records;
}

/** Compiles `fixtures/<name>.bpf.c` for BPF into `dir`. */
export function compileBpf(name: string, dir: string, extra: string[] = []): string {
  const out = join(dir, `${name}.o`);
  mustRun(CLANG!, ["-O2", "-g", "-target", "bpf", ...extra, "-c", join(FIXTURES, `${name}.bpf.c`), "-o", out]);
  return out;
}

const q = (s: string): string => `'${s || "(anon)"}'`;
const linkage = (n: number): string => ["static", "global", "extern"][n] ?? `(unknown)`;

/** One of our types in bpftool's raw format (header line plus member lines). */
export function bpftoolFormat(btf: Btf, t: BtfType): string[] {
  const head = `[${t.id}] ${btfKindName(t.kind)} ${q(t.name)}`;
  switch (t.kind) {
    case BtfKind.INT: {
      const enc = t.encoding & 1 ? "SIGNED" : t.encoding & 2 ? "CHAR" : t.encoding & 4 ? "BOOL" : "(none)";
      return [`${head} size=${t.size} bits_offset=${t.offset} nr_bits=${t.bits} encoding=${enc}`];
    }
    case BtfKind.PTR:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.TYPE_TAG:
      return [`${head} type_id=${t.type}`];
    case BtfKind.ARRAY:
      return [`${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`];
    case BtfKind.STRUCT:
    case BtfKind.UNION:
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map(
          (m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}` + (m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ""),
        ),
      ];
    case BtfKind.ENUM:
      return [
        `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${v.value}`),
      ];
    case BtfKind.ENUM64:
      return [
        `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${v.value}${t.signed ? "LL" : "ULL"}`),
      ];
    case BtfKind.FWD:
      return [`${head} fwd_kind=${t.union ? "union" : "struct"}`];
    case BtfKind.FUNC:
      return [`${head} type_id=${t.type} linkage=${linkage(t.linkage)}`];
    case BtfKind.FUNC_PROTO:
      return [`${head} ret_type_id=${t.returnType} vlen=${t.params.length}`, ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`)];
    case BtfKind.VAR:
      return [`${head} type_id=${t.type}, linkage=${linkage(t.linkage)}`];
    case BtfKind.DATASEC:
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${btfKindName(btf.kindOf(v.type))} ${q(btf.nameOf(v.type))})`),
      ];
    case BtfKind.FLOAT:
      return [`${head} size=${t.size}`];
    case BtfKind.DECL_TAG:
      return [`${head} type_id=${t.type} component_idx=${t.componentIdx}`];
    default:
      return [head];
  }
}
