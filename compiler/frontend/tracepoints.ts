// Tracepoint record layouts from tracefs format files (events/<group>/<name>/format).
// Takes the format text (or a tracefs root to read it from); gives each field's offset, size,
// signedness, shape (scalar, fixed array, __data_loc string) and the TypeScript type the prelude
// declares for it; for a tracepoint tracefs lacks, the ones spelled like it; for a glob (`sys_enter_*`), the
// tracepoints it matches and the fields they all share, at the same place and of the same shape.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { similarNames } from "../similar.js";
import { globRegExp } from "../glob.js";
import { outOfFiles } from "../file-error.js";

/** An integer as the record stores it. */
export interface TracepointInt {
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** A `bool` field: one byte holding 0 or 1, read as a `boolean`. */
  bool?: true;
}

/**
 * How a field's bytes are read:
 * - int, ptr: one load from the record.
 * - str (`char comm[16]`), array (`unsigned long args[6]`): fixed-size, inside the record.
 * - dynamic-str (`__data_loc char[] filename`): a u32 in the record, `length << 16 | offset`, locating a
 *   NUL-terminated string after the fixed fields; for `__rel_loc` the offset counts from the end of the u32.
 */
export type TracepointShape =
  | ({ kind: "int" } & TracepointInt)
  | { kind: "ptr" }
  | { kind: "str"; length: number }
  | { kind: "array"; element: TracepointInt; length: number }
  | { kind: "dynamic-str"; relative: boolean };

export interface TracepointField {
  name: string;
  /** The C declaration as the format file gives it ("const char * pathname"). */
  cType: string;
  offset: number;
  size: number;
  signed: boolean;
  /** Undefined for a field the compiler cannot read yet (a flexible array, a __data_loc of non-chars). */
  shape?: TracepointShape;
  /** The prelude's type for it: "i32", "boolean", "Ptr", "Str<16>", "Arr<u64, 6>", "Str<never>" (a __data_loc string: any length). */
  tsType?: string;
  /** The kernel refuses reads below offset 8 (the common header) from tracepoint programs. */
  readable: boolean;
}

export interface TracepointFormat {
  group: string;
  name: string;
  fields: TracepointField[];
}

export const TRACEFS_ROOTS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** Reads the format of group:name; undefined when no tracefs root has it. */
export function readTracepointFormat(group: string, name: string, roots: readonly string[] = TRACEFS_ROOTS): string | undefined {
  if (!/^[\w.-]+$/.test(group) || !/^[\w.-]+$/.test(name)) return undefined;
  for (const root of roots) {
    try {
      return readFileSync(join(root, "events", group, name, "format"), "utf8");
    } catch {
      // try the next root
    }
  }
  return undefined;
}

/**
 * Why no tracepoint format can be read at all (tracefs not mounted, or not readable by this user), or undefined
 * when some root's events are readable: then a missing format means the tracepoint does not exist.
 */
export function unreadableTracefs(roots: readonly string[] = TRACEFS_ROOTS): string | undefined {
  let denied: string | undefined;
  for (const root of roots) {
    try {
      readdirSync(join(root, "events"));
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === "EACCES" || code === "EPERM") && !denied) denied = root;
    }
  }
  if (denied) return `${denied} is readable only by root, and tracepoint formats are read from it: compile as root (sudo), or remount it readable (mount -o remount,mode=755 ${denied})`;
  return `tracefs is not mounted, and tracepoint formats are read from it (mount -t tracefs tracefs ${roots[0]})`;
}

/**
 * The tracepoints `group:name` matches, each "group/name" in tracefs's order, where either part may be a glob; from
 * the first root whose available_events (or, failing that, events directory) can be read. Undefined when none can.
 */
export function matchingTracepoints(group: string, name: string, roots: readonly string[] = TRACEFS_ROOTS): string[] | undefined {
  const g = globRegExp(group);
  const n = globRegExp(name);
  for (const root of roots) {
    let text: string | undefined;
    try {
      text = readFileSync(join(root, "available_events"), "utf8");
    } catch (error) {
      if (outOfFiles(error)) throw error;
      const groups = list(join(root, "events"));
      if (groups.length) text = groups.filter((x) => g.test(x)).flatMap((x) => list(join(root, "events", x)).map((y) => `${x}:${y}`)).join("\n");
    }
    if (text === undefined) continue;
    const out: string[] = [];
    for (const line of text.split("\n")) {
      const colon = line.indexOf(":");
      if (colon > 0 && g.test(line.slice(0, colon)) && n.test(line.slice(colon + 1))) out.push(`${line.slice(0, colon)}/${line.slice(colon + 1)}`);
    }
    return out;
  }
  return undefined;
}

/**
 * The record every one of `formats` has: the fields that all of them have under the same name, at the same offset,
 * of the same size and shape (a syscall tracepoint's `__syscall_nr`; not its arguments, which differ by call).
 */
function commonFormat(group: string, name: string, formats: readonly TracepointFormat[]): TracepointFormat {
  const same = (a: TracepointField, b: TracepointField | undefined): boolean =>
    b !== undefined && a.offset === b.offset && a.size === b.size && a.signed === b.signed && a.tsType === b.tsType && JSON.stringify(a.shape) === JSON.stringify(b.shape);
  const [first, ...rest] = formats;
  const fields = (first?.fields ?? []).filter((f) => rest.every((other) => same(f, other.fields.find((x) => x.name === f.name))));
  return { group, name, fields };
}

/**
 * The record a glob's program reads: the fields shared by the tracepoints `keys` names ("group/name") whose formats
 * `formatText` gives (one listed but gone since is left out); undefined when it gives none.
 */
export function globFormat(group: string, name: string, keys: readonly string[], formatText: (group: string, name: string) => string | undefined): TracepointFormat | undefined {
  const formats = keys.flatMap((key) => {
    const [g, n] = key.split("/") as [string, string];
    const text = formatText(g, n);
    return text === undefined ? [] : [parseTracepointFormat(g, n, text)];
  });
  return formats.length ? commonFormat(group, name, formats) : undefined;
}

/** Up to three tracepoints named like group:name, closest first, from the first tracefs root that has events. */
export function similarTracepoints(group: string, name: string, roots: readonly string[] = TRACEFS_ROOTS): string[] {
  for (const root of roots) {
    const groups = list(join(root, "events"));
    if (!groups.length) continue;
    if (groups.includes(group)) return similarNames(name, list(join(root, "events", group))).map((n) => `${group}:${n}`);
    // An unknown group: the groups that have this name, else the groups spelled like it.
    const holding = groups.filter((g) => list(join(root, "events", g)).includes(name)).map((g) => `${g}:${name}`);
    return holding.length ? holding.slice(0, 3) : similarNames(group, groups).map((g) => `${g}:*`);
  }
  return [];
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (error) {
    if (outOfFiles(error)) throw error;
    return [];
  }
}

const FIELD = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;
/** "type name", "type name[16]", "type name[TASK_COMM_LEN]", "type name[]", "__data_loc type[] name". */
const DECLARATION = /^(.*?)\s*\b([A-Za-z_]\w*)\s*(?:\[([^\]]*)\])?$/;

export function parseTracepointFormat(group: string, name: string, text: string): TracepointFormat {
  const fields: TracepointField[] = [];
  for (const line of text.split("\n")) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const cType = m[1]!.trim();
    const d = DECLARATION.exec(cType);
    if (!d) continue;
    const offset = Number(m[2]);
    const size = Number(m[3]);
    const signed = m[4] === "1";
    const shape = shapeOf(d[1]!.trim(), d[3], size, signed);
    fields.push({ name: d[2]!, cType, offset, size, signed, shape, tsType: shape && tsTypeOf(shape), readable: offset >= 8 });
  }
  return { group, name, fields };
}

/** Sizes of the C element types arrays in format files use, for lengths written as a macro (`[TASK_COMM_LEN]`). */
const C_SIZES: Record<string, number> = {
  char: 1, "signed char": 1, "unsigned char": 1, u8: 1, s8: 1, __u8: 1, __s8: 1,
  short: 2, "unsigned short": 2, u16: 2, s16: 2, __u16: 2, __s16: 2,
  int: 4, "unsigned int": 4, u32: 4, s32: 4, __u32: 4, __s32: 4, pid_t: 4,
  long: 8, "unsigned long": 8, "long long": 8, "unsigned long long": 8, u64: 8, s64: 8, __u64: 8, __s64: 8,
};

function shapeOf(base: string, brackets: string | undefined, size: number, signed: boolean): TracepointShape | undefined {
  const loc = /^__(data|rel)_loc\s+(.*?)\s*\[\s*\]$/.exec(base);
  if (loc) return /^(const\s+)?char$/.test(loc[2]!) ? { kind: "dynamic-str", relative: loc[1] === "rel" } : undefined;
  if (brackets !== undefined) {
    const element = base.replace(/^const\s+/, "");
    const length = /^\d+$/.test(brackets.trim()) ? Number(brackets) : C_SIZES[element] ? size / C_SIZES[element]! : NaN;
    if (!Number.isInteger(length) || length <= 0) return undefined;
    if (element === "char") return { kind: "str", length };
    const elementSize = size / length;
    if (elementSize !== 1 && elementSize !== 2 && elementSize !== 4 && elementSize !== 8) return undefined;
    return { kind: "array", element: { size: elementSize, signed }, length };
  }
  if (base.includes("*")) return size === 8 ? { kind: "ptr" } : undefined;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  if (size === 1 && /^(const\s+)?(bool|_Bool)$/.test(base)) return { kind: "int", size, signed: false, bool: true };
  // A syscall's arguments sit in 8-byte slots marked unsigned whatever their C type (`int dfd`, size 8, signed 0):
  // an integer type narrower than its slot is read as that type, from the slot's low bytes (BPF targets here are
  // little-endian), so that `ctx.dfd === -100` (AT_FDCWD) holds and %d prints -100.
  const declared = C_SIZES[base.replace(/^const\s+/, "")];
  if (declared !== undefined && declared < size) return { kind: "int", size: declared as 1 | 2 | 4, signed: signedC(base.replace(/^const\s+/, "")) };
  return { kind: "int", size, signed };
}

/** Whether a C integer type of C_SIZES is signed (char is, on the targets here). */
const signedC = (type: string): boolean => !/^(unsigned\b|u\d|__u\d)/.test(type);

const intName = (t: TracepointInt): string => (t.bool ? "boolean" : `${t.signed ? "i" : "u"}${t.size * 8}`);

function tsTypeOf(shape: TracepointShape): string {
  switch (shape.kind) {
    case "int": return intName(shape);
    case "ptr": return "Ptr";
    case "str": return `Str<${shape.length}>`;
    case "array": return `Arr<${intName(shape.element)}, ${shape.length}>`;
    case "dynamic-str": return "Str<never>";
  }
}
