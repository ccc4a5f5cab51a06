// From an instruction of a linked program back to the source line it came from, through the object's
// .BTF.ext line info (the TypeScript line for tsbpf objects, the C line for clang -g ones).
// Takes the ObjectSpec and a LinkedProgram; gives SourceMap.at(pc) -> { file, line, column, text }.

import { parseBtf, parseBtfExt, type BtfLineInfo } from "../../compiler/btf/index.js";
import type { ObjectSpec } from "./object.js";
import type { LinkedFunction, LinkedProgram } from "./relocate.js";

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  /** The source line's whole text (`column` counts from its start), when the object carries it. */
  text: string | undefined;
}

export class SourceMap {
  private readonly functions: readonly LinkedFunction[];
  constructor(
    linked: LinkedProgram,
    private readonly lines: ReadonlyMap<string, readonly BtfLineInfo[]>,
  ) {
    this.functions = linked.functions;
  }

  /** Where slot `pc` of the linked program came from, if the object has line info for it. */
  at(pc: number): SourceLocation | undefined {
    let fn: LinkedFunction | undefined;
    for (const f of this.functions) if (f.start <= pc && (!fn || f.start > fn.start)) fn = f;
    if (!fn) return undefined;
    const records = this.lines.get(fn.section);
    if (!records) return undefined;
    const byteOff = (fn.offset + pc - fn.start) * 8;
    let best: BtfLineInfo | undefined;
    for (const r of records) if (r.insnOff <= byteOff && (!best || r.insnOff >= best.insnOff)) best = r;
    if (!best || best.line === 0) return undefined;
    const text = best.lineText?.replace(/\r$/, "");
    return { file: best.fileName ?? "?", line: best.line, column: best.col, text: text?.trim() ? text : undefined };
  }
}

/** Line info records of every section of the object (empty without .BTF/.BTF.ext). */
export function lineInfo(object: ObjectSpec): Map<string, BtfLineInfo[]> {
  const out = new Map<string, BtfLineInfo[]>();
  const { btf, btfExt } = object.raw;
  if (!btf || !btfExt) return out;
  try {
    const local = parseBtf(btf);
    const ext = parseBtfExt(btfExt, { btf: local });
    for (const s of ext.lineInfo) out.set(s.name ?? local.stringAt(s.nameOff), s.records);
  } catch {
    // Line info is for messages only: an object whose BTF we cannot read still loads.
  }
  return out;
}

/** "file:line:col" and the line's text, for messages. */
export function formatLocation(loc: SourceLocation | undefined): string {
  if (!loc) return "";
  return `${loc.file}:${loc.line}:${loc.column}${loc.text ? `: ${loc.text.trim()}` : ""}`;
}
