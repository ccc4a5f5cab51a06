// A probe as a recording names it (cli/record.ts writes them, replay() reads them), and its text as tsbpf list writes it.

export type RecordedProbe =
  | { kind: "tracepoint"; group: string; name: string }
  | { kind: "kprobe" | "uprobe"; binary?: string; func: string; retprobe: boolean }
  /** Its arguments as the site's spec decoded them: replayed as u64s in registers, which any handler type narrows alike. */
  | { kind: "usdt"; binary: string; provider: string; name: string }
  /** Its arguments as u64 slots, pointers as the addresses they were (replayed as unreadable, as a kprobe's). */
  | { kind: "rawTracepoint"; name: string };

/** A recorded probe as tsbpf list names one. */
export function probeText(p: RecordedProbe): string {
  if (p.kind === "tracepoint") return `tracepoint:${p.group}:${p.name}`;
  if (p.kind === "usdt") return `usdt:${p.binary}:${p.provider}:${p.name}`;
  if (p.kind === "rawTracepoint") return `rawtracepoint:${p.name}`;
  if (p.kind === "uprobe") return `${p.retprobe ? "uretprobe" : "uprobe"}:${p.binary}:${p.func}`;
  return `${p.retprobe ? "kretprobe" : "kprobe"}:${p.func}`;
}

/**
 * Whether a tracepoint field of this C type (its name after it or not) points to text the recorder reads: a `char *`,
 * not a `char *const *` (execve's argv and envp), whose bytes are pointers.
 */
export const pointsToText = (cType: string): boolean => /\bchar\s*\*\s*(?:const\b\s*)?(?:[A-Za-z_]\w*)?$/.test(cType.trim());
