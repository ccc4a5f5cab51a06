// A program the verifier model gives up on (too many paths through its loops) still runs in the simulator: the
// model found no fault, and Linux takes such programs (its pruning of loops goes further than the model's).

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { tracepointFormats } from "../support/fixture-kernel.js";

test("a basename loop the model gives up on runs in the simulator and prints the file's name", async () => {
  const text = [
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
  const sim = await simulate({ fileName: "basename.ts", text }, { tracepointFormats: tracepointFormats("syscalls/sys_enter_unlinkat") });
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: sim.kernel.userString("/tmp/dir/file.txt"), flag: 0 });
  assert.equal(sim.output(), "9 8\n");
});
