// A probe the verifier model gives up on while Linux loads it: the basename of an unlinked path (each '/' moves
// `start`), then up to 16 of its bytes read from `start` on. With 30 bytes the kernel needs ~57,000 instructions; the
// model, which lacks the kernel's SCC-based pruning of loops, passes its 1,000,000 limit. Its output: `start n`.

export const BASENAME_PROBE = [
  'import { tracepoint, readUserStr, printf, type u32, type Str } from "tsbpf";',
  'export const license = "GPL";',
  'export const t = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {',
  "  const p: Str<64> = readUserStr(ctx.pathname);",
  "  let start: u32 = 0;",
  "  for (let i = 0; i < 30; i++) {",
  "    const c = p.charCodeAt(i);",
  "    if (c === 0) break;",
  "    if (c === 47) start = i + 1;",
  "  }",
  "  let n: u32 = 0;",
  "  for (let i = 0; i < 16; i++) {",
  "    if (p.charCodeAt(start + i) === 0) break;",
  "    n++;",
  "  }",
  '  printf("%u %u\\n", start, n);',
  "});",
].join("\n");
