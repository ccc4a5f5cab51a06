// Tracepoint fields beyond scalars: how format files' declarations are read (char arrays, other arrays, array
// lengths written as macros, __data_loc and __rel_loc strings, and what stays unsupported); what the compiler
// says about misuse; and, in the simulator, that each shape reads the bytes the record holds. The fixture
// test/compiler/fixtures/tracepoint-fields.ts is pinned and loaded into the kernel by test/llvm/backends.test.ts;
// examples/execsnoop.ts reads a live __data_loc string in test/e2e/run.test.ts. Last, the suggestions for an
// unknown tracepoint.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { parseTracepointFormat } from "../../compiler/frontend/tracepoints.js";
import { simulate } from "../../runtime/test/index.js";
import { FIXTURES, tracepointFormat } from "../support/fixture-kernel.js";

const format = (group: string, name: string) => tracepointFormat(group, name)!;
const shapes = (group: string, name: string) =>
  Object.fromEntries(parseTracepointFormat(group, name, format(group, name)).fields.map((f) => [f.name, f.tsType ?? "unsupported"]));

test("format declarations become Str, Arr and __data_loc string types", () => {
  assert.deepEqual(shapes("sched", "sched_switch"), {
    common_type: "u16", common_flags: "u8", common_preempt_count: "u8", common_pid: "i32",
    prev_comm: "Str<16>", prev_pid: "i32", prev_prio: "i32", prev_state: "i64", next_comm: "Str<16>", next_pid: "i32", next_prio: "i32",
  });
  assert.equal(shapes("raw_syscalls", "sys_enter").args, "Arr<u64, 6>");
  assert.equal(shapes("sched", "sched_process_exec").filename, "Str<never>");
  assert.deepEqual([shapes("block", "block_rq_issue").rwbs, shapes("block", "block_rq_issue").cmd], ["Str<10>", "Str<never>"]);
  // A length written as a macro comes from the size; a flexible array and a __data_loc of non-chars are not read.
  assert.deepEqual(shapes("fixture", "odd_fields"), {
    common_type: "u16", common_flags: "u8", common_preempt_count: "u8", common_pid: "i32",
    name: "Str<never>", task: "Str<16>", deltas: "Arr<i16, 3>", stack: "unsupported", tail: "unsupported",
  });
  const rel = parseTracepointFormat("fixture", "odd_fields", format("fixture", "odd_fields")).fields.find((f) => f.name === "name")!;
  assert.deepEqual(rel.shape, { kind: "dynamic-str", relative: true });
});

/** Diagnostics of a tracepoint handler body, as "TSBPFcode: message" (or "TScode"). */
function diagnose(group: string, name: string, body: string): string[] {
  const text = `import { tracepoint, printk, readUserStr, type Str, type u32, type u64 } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("${group}", "${name}", (ctx) => {\n${body}\nreturn 0;\n});\n`;
  const r = compile({ fileName: "p.ts", text }, { tracepointFormat });
  return r.diagnostics.map((d) => `${d.code}: ${d.message}`);
}

test("misuse of array and string fields gets a diagnostic naming the field and what to do", () => {
  const [notInt] = diagnose("sched", "sched_switch", "const n = -ctx.prev_comm; printk(`${n}`);");
  assert.match(notInt ?? "", /ctx\.prev_comm` is a Str<16> \(char prev_comm\[16\]\), not an integer/);
  const [size] = diagnose("sched", "sched_process_exec", "const f = ctx.filename; printk(`${f}`);");
  assert.match(size ?? "", /annotate the string's size: `const f: Str<64> = ctx\.filename`/);
  const [range] = diagnose("raw_syscalls", "sys_enter", "printk(`${ctx.args[6]}`);");
  assert.match(range ?? "", /index 6 is outside Arr<u64, 6>/);
  // Declared (as unknown) so that the read gets tsbpf's diagnostic rather than TypeScript's "no such property".
  const [unsupported, ...rest] = diagnose("fixture", "odd_fields", "const s = ctx.stack;");
  assert.match(unsupported ?? "", /^TSBPF1014: field `stack` \(__data_loc u64\[\] stack\) has a type the compiler does not support yet/);
  assert.deepEqual(rest, []);
  // TypeScript's own checks come first: a string is no number.
  assert.deepEqual(diagnose("sched", "sched_process_exec", "const n: Str<8> = ctx.filename; const m: u64 = ctx.filename;"), ["TS2322: Type 'Str<never>' is not assignable to type 'number'."]);
});

test("the simulator reads each field shape from the record's bytes", async () => {
  const formats = Object.fromEntries(
    [["sched", "sched_process_exec"], ["sched", "sched_switch"], ["raw_syscalls", "sys_enter"], ["fixture", "odd_fields"], ["block", "block_rq_issue"]].map(([g, n]) => [`${g}/${n}`, format(g!, n!)]),
  );
  const fileName = `${FIXTURES}/tracepoint-fields.ts`;
  const sim = await simulate({ fileName, text: readFileSync(fileName, "utf8") }, { tracepointFormats: formats });
  sim.tracepoint("sched", "sched_process_exec", { filename: "/usr/bin/env", pid: 77 }, { program: "exec" });
  sim.tracepoint("sched", "sched_switch", { prev_comm: "bash", next_comm: "kworker/u8:1" });
  sim.tracepoint("sched", "sched_switch", { prev_comm: "bash2", next_comm: "kworker/u8:1" });
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 3, args: new Uint8Array(new BigUint64Array([10n, 11n, 12n, 13n, 14n, 15n]).buffer) });
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 9, args: new Uint8Array(new BigUint64Array([20n, 21n, 22n, 23n, 24n, 25n]).buffer) });
  sim.tracepoint("fixture", "odd_fields", { name: "relative", task: "worker", deltas: new Uint8Array(new Int16Array([1, 2, -5]).buffer) });
  assert.deepEqual(sim.trace(), [
    "exec /usr/bin/env",
    "bash -> kworker/u8:1",
    "bash yields to a kworker",
    "bash2 -> kworker/u8:1",
    "10 15 13", // args[0], args[5], args[id & 7]
    "20 25 21",
    "worker relative -5", // task (a macro-sized char array), the __rel_loc string, deltas[2]
  ]);
  // A Str is truthy when not empty, as a JavaScript string is.
  sim.tracepoint("block", "block_rq_issue", { comm: "", rwbs: "W", cmd: "" });
  sim.tracepoint("block", "block_rq_issue", { comm: "kworker/0:1", rwbs: "WS", cmd: "flush" });
  assert.equal(sim.trace().at(-1), "kworker/0:1 WS flush");
  // id 14: args[6] is past the array, so the handler ends there (returning 0) and prints nothing.
  assert.equal(sim.tracepoint("raw_syscalls", "sys_enter", { id: 14 }).r0, 0n);
  assert.equal(sim.trace().length, 8);

  // __data_loc strings compared: the exact name, not a longer one; a prefix.
  const shells = ["/bin/sh", "/usr/bin/sh", "/bin/shx", "/bin/s", "/tmp/x", "/tmp"].map((filename) => {
    const before = sim.trace().length;
    sim.tracepoint("sched", "sched_process_exec", { filename, pid: 1 }, { program: "execFilter" });
    return sim.trace().slice(before).join(",");
  });
  assert.deepEqual(shells, ["a shell,sh", "a shell,sh", "other", "other", "exec from /tmp,tmp", "other"]);
  sim.tracepoint("sched", "sched_process_exec", { filename: "", pid: 1 }, { program: "execFilter" });
  assert.equal(sim.trace().at(-1), "no name");
  assert.deepEqual(sim.events<{ pid: number; filename: string }>("execs"), [{ pid: 77, filename: "/usr/bin/env" }]);
});

test("an unknown tracepoint's diagnostic suggests the tracepoints spelled like it", () => {
  const root = mkdtempSync(join(tmpdir(), "tsbpf-tracefs-"));
  try {
    for (const [g, n] of [["syscalls", "sys_enter_unlinkat"], ["syscalls", "sys_enter_unlink"], ["syscalls", "sys_enter_openat"], ["sched", "sched_switch"]]) {
      mkdirSync(join(root, "events", g!, n!), { recursive: true });
      writeFileSync(join(root, "events", g!, n!, "format"), format("syscalls", "sys_enter_unlinkat"));
    }
    const message = (g: string, n: string) => {
      const text = `import { tracepoint } from "tsbpf";\nexport const license = "GPL";\nexport const p = tracepoint("${g}", "${n}", () => 0);\n`;
      const r = compile({ fileName: "p.ts", text }, { tracefs: root });
      assert.equal(r.diagnostics.length, 1);
      return r.diagnostics[0]!.message.replace(/^.*\)/, "");
    };
    assert.equal(message("syscalls", "sys_enter_unlinkatt"), "; did you mean syscalls:sys_enter_unlinkat or syscalls:sys_enter_unlink?");
    assert.equal(message("syscall", "sys_enter_openat"), "; did you mean syscalls:sys_enter_openat?");
    assert.equal(message("schedd", "nothing"), "; did you mean sched:*?");
    assert.equal(message("net", "xmit"), "");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("readUserStr takes an address held in a u64, such as a raw syscall's argument, but not a narrower integer", async () => {
  const text = `import { tracepoint, printk, readUserStr, type Str } from "tsbpf";
export const license = "GPL";
export const enter = tracepoint("raw_syscalls", "sys_enter", (ctx) => {
  if (ctx.id !== 257) return 0; // openat(dfd, filename, ...)
  const path: Str<32> = readUserStr(ctx.args[1]);
  printk(\`openat \${path}\`);
  return 0;
});
`;
  const sim = await simulate({ fileName: "raw.ts", text }, { tracepointFormats: { "raw_syscalls/sys_enter": format("raw_syscalls", "sys_enter") } });
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 257, args: [0xffffff9c, sim.kernel.userString("/etc/hostname"), 0, 0, 0, 0] });
  assert.deepEqual(sim.trace(), ["openat /etc/hostname"]);
  const [narrow] = diagnose("raw_syscalls", "sys_enter", "const p: Str<8> = readUserStr(ctx.id as u32); printk(`${p}`);");
  assert.match(narrow ?? "", /^TSBPF1019: readUserStr\(\) reads at an address: `ctx\.id as u32` is a u32, too narrow for one/);
});

test("a bool field (sched_process_exit's group_dead) is a boolean: passed as one, printed and sent as true or false", async () => {
  assert.equal(shapes("sched", "sched_process_exit").group_dead, "boolean");
  const text = `import { tracepoint, printk, RingBuf, type u32 } from "tsbpf";
export const license = "GPL";
export interface Exit { pid: u32; dead: boolean }
export const exits = new RingBuf<Exit>(4096);
function lastThread(dead: boolean): boolean { return dead; }
export const exit = tracepoint("sched", "sched_process_exit", (ctx) => {
  printk(\`\${ctx.comm} dead=\${ctx.group_dead}\`);
  exits.output({ pid: ctx.pid as u32, dead: lastThread(ctx.group_dead) });
  return 0;
});
`;
  const sim = await simulate({ fileName: "exit.ts", text }, { tracepointFormats: { "sched/sched_process_exit": format("sched", "sched_process_exit") } });
  sim.tracepoint("sched", "sched_process_exit", { comm: "worker", pid: 7, group_dead: false });
  sim.tracepoint("sched", "sched_process_exit", { comm: "sleep", pid: 8, group_dead: true });
  assert.deepEqual(sim.trace(), ["worker dead=false", "sleep dead=true"]);
  assert.deepEqual(sim.events("exits"), [{ pid: 7, dead: false }, { pid: 8, dead: true }]);
});

test("an Arr's length is its constant N: a loop bound over ctx.args or a struct's array, and a value", async () => {
  const text = `import { tracepoint, printk, type Arr, type u32, type u64 } from "tsbpf";
export const license = "GPL";
interface Holder { xs: Arr<u32, 3> }
export const enter = tracepoint("raw_syscalls", "sys_enter", (ctx) => {
  let nonzero = 0;
  for (let i = 0; i < ctx.args.length; i++) if (ctx.args[i] !== 0) nonzero++;
  const h: Holder = { xs: [1, 2, 3] };
  let sum: u64 = 0;
  for (let i = 0; i < h.xs.length; i++) sum += h.xs[i];
  const n = h.xs.length;
  printk(\`\${nonzero} of \${ctx.args.length}, sum \${sum} of \${n}\`);
  return 0;
});
`;
  const sim = await simulate({ fileName: "length.ts", text }, { tracepointFormats: { "raw_syscalls/sys_enter": format("raw_syscalls", "sys_enter") } });
  sim.tracepoint("raw_syscalls", "sys_enter", { id: 1, args: [3, 0, 7, 0, 0, 1] });
  assert.deepEqual(sim.trace(), ["3 of 6, sum 6 of 3"]);
});
