// Tracepoint record layouts from tracefs format files (events/<group>/<name>/format).
// Takes the format text (or a tracefs root to read it from); gives each field's offset, size,
// signedness and the TypeScript type the prelude declares for it.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TracepointField {
  name: string;
  /** The C declaration as the format file gives it ("const char * pathname"). */
  cType: string;
  offset: number;
  size: number;
  signed: boolean;
  /** The prelude's type for it: "i32", "u64", "Ptr", or undefined when not expressible yet (arrays, __data_loc). */
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

const FIELD = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

export function parseTracepointFormat(group: string, name: string, text: string): TracepointFormat {
  const fields: TracepointField[] = [];
  for (const line of text.split("\n")) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const cType = m[1]!.trim();
    const offset = Number(m[2]);
    const size = Number(m[3]);
    const signed = m[4] === "1";
    const fieldName = /([A-Za-z_]\w*)\s*(\[[^\]]*\])?$/.exec(cType)?.[1];
    if (!fieldName) continue;
    fields.push({ name: fieldName, cType, offset, size, signed, tsType: tsTypeOf(cType, size, signed), readable: offset >= 8 });
  }
  return { group, name, fields };
}

function tsTypeOf(cType: string, size: number, signed: boolean): string | undefined {
  if (cType.includes("[") || cType.startsWith("__data_loc")) return undefined;
  if (cType.includes("*")) return size === 8 ? "Ptr" : undefined;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  return `${signed ? "i" : "u"}${size * 8}`;
}
