// A probe with a loop that moves a variable a later loop indexes with: the basename of an unlinked path (each '/' in
// the first `scan` bytes moves `start`), then up to `read` of its bytes from `start` on. Its output: `start n`. The
// model stores, tries and drops states in loops as Linux does and processes as many instructions: 8,672 with a
// 16-byte scan, 57,374 with 30 bytes, 587,915 with 40; both give up past 1,000,000 with 48. (Trying the stored states
// oldest first, and storing by instruction count instead of jump history, the model took 861,384 with 16 bytes and
// gave up with 30.)

export function basenameProbe(scan = 30, read = 16): string {
  return [
    'import { tracepoint, readUserStr, printf, type u32, type Str } from "tsbpf";',
    'export const license = "GPL";',
    'export const t = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {',
    "  const p: Str<64> = readUserStr(ctx.pathname);",
    "  let start: u32 = 0;",
    `  for (let i = 0; i < ${scan}; i++) {`,
    "    const c = p.charCodeAt(i);",
    "    if (c === 0) break;",
    "    if (c === 47) start = i + 1;",
    "  }",
    "  let n: u32 = 0;",
    `  for (let i = 0; i < ${read}; i++) {`,
    "    if (p.charCodeAt(start + i) === 0) break;",
    "    n++;",
    "  }",
    '  printf("%u %u\\n", start, n);',
    "});",
  ].join("\n");
}

export const BASENAME_PROBE = basenameProbe();
