// exit(), m.print() and m.clear(), as bpftrace's exit(), print(@m) and clear(@m): requests a probe sends to tsbpf run
// through a one-page ring buffer tagged `tsbpf:actions=MAPS`, carried out when read (exit(): the maps print and the
// run exits with the code; exit() also ends the handler). Checked in the simulator and on this kernel, with both
// backends. Also printk of a string read straight into the message (bpftrace's printf("%s", str(p))).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { mapBtfTypes } from "../../runtime/loader/maps.js";
import { ActionTable, decodeAction } from "../../runtime/loader/actions.js";
import { ACTIONS } from "../../compiler/btf/tags.js";
import { mapLines, topOf } from "../../cli/report.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";
import { tracepointFormat } from "../support/fixture-kernel.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

/** Counts unlinks under `dir`, printing each path, and ends the run with code 7 at the third. */
const UNLINKS = (dir: string) => `import { tracepoint, exit, printk, readUserStr, HashMap, type u32, type u64, type Str } from "tsbpf";
export const license = "GPL";
export const seen = new HashMap<u32, u64>(4);
function stopAt(n: u64) {
  if (n >= 3) exit(7);
}
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const path: Str<64> = readUserStr(ctx.pathname);
  if (!path.startsWith("${dir}/")) return;
  printk(\`unlink \${readUserStr(ctx.pathname)}\`);
  seen.increment(0);
  stopAt(seen.lookup(0) ?? 0);
  seen.increment(1); // not reached once exit() has run: it ends the handler
});
`;

const UPROBE = `import { uprobe, exit, printk, readUserStr, HashMap, type u32, type u64, type i32, type Ptr, type u8 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u32, u64>(4);
export const p = uprobe("libc.so.6", "unlink", (path: Ptr<u8>) => {
  printk(\`unlink \${readUserStr(path)}, as kernel memory \${readKernelStr(path)}\`);
  calls.increment(0);
  if ((calls.lookup(0) ?? 0) === 2) exit((calls.lookup(0) ?? 0) + 40);
  calls.increment(1);
});
`.replace("readUserStr, HashMap", "readUserStr, readKernelStr, HashMap");

test("exit() writes to a one-page actions ring buffer tagged tsbpf:actions, left out of what tsbpf run prints", () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "unlinks.ts", text: UNLINKS("/tmp/x") }, { backend, tracepointFormat });
    assert.deepEqual(r.diagnostics, [], backend);
    const spec = openObject(r.object, { name: "unlinks" });
    const map = spec.maps.find((m) => m.name === "tsbpf_actions");
    assert.ok(map, `${backend}: the actions map`);
    assert.deepEqual([map.type, map.maxEntries], [27, 4096], backend);
    const tags = mapBtfTypes(spec, map)!;
    assert.deepEqual([tags.actions, tags.internal], [[], true], backend);
  }
  // A file that never calls exit() has no such map.
  const plain = compile({ fileName: "plain.ts", text: UNLINKS("/tmp/x").replace("if (n >= 3) exit(7);", "") }, { tracepointFormat });
  assert.equal(openObject(plain.object, { name: "plain" }).maps.some((m) => m.name === "tsbpf_actions"), false);
});

test("exit() takes at most one code, a number from 0 to 255", () => {
  const diagnostics = (call: string) => compile({ fileName: "bad.ts", text: UNLINKS("/tmp/x").replace("exit(7)", call) }, { tracepointFormat }).diagnostics;
  const two = diagnostics("exit(7, 8)");
  assert.ok(two.some((d) => d.code === "TS2554" && d.line === 5), JSON.stringify(two));
  const str = diagnostics(`exit("x")`);
  assert.ok(str.some((d) => d.code === "TS2345" && d.line === 5), JSON.stringify(str));
  // The process's status keeps 8 bits: exit(256) would look like success.
  for (const code of [256, -1]) {
    const out = diagnostics(`exit(${code})`);
    assert.deepEqual(out.map((d) => [d.code, d.message]), [["TSBPF1005", `exit(${code}): an exit status is 0 to 255 (the process's status keeps only its low 8 bits)`]]);
  }
  assert.deepEqual(diagnostics("exit(255)"), []);
});

test("in the simulator, exitCode() gives the first exit()'s code, and exit() ends the handler", async () => {
  const sim = await simulate({ fileName: "uprobe.ts", text: UPROBE });
  const path = sim.kernel.userString("/tmp/gone");
  sim.uprobe("libc.so.6:unlink", { args: [path] });
  assert.equal(sim.exitCode(), undefined);
  sim.uprobe("libc.so.6:unlink", { args: [path] });
  assert.equal(sim.exitCode(), 42);
  // Probes still fire after it (the kernel's do until the detach); a later exit() does not change the code.
  sim.uprobe("libc.so.6:unlink", { args: [path] });
  assert.equal(sim.exitCode(), 42);
  assert.deepEqual(sim.map("calls").toMap(), new Map([[0, 3n], [1, 2n]]));
  // A string read straight into printk (64 bytes, as bpftrace's str()); a user address read as kernel memory faults.
  assert.deepEqual(sim.trace(), Array(3).fill("unlink /tmp/gone, as kernel memory "));
});

test("a printed string longer than 63 bytes is cut there, as bpftrace's str() cuts it", async () => {
  const sim = await simulate({ fileName: "uprobe.ts", text: UPROBE });
  const long = "/tmp/" + "a".repeat(100);
  sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString(long)] });
  assert.deepEqual(sim.trace(), [`unlink ${long.slice(0, 63)}, as kernel memory `]);
});

test("both backends' exit() programs load into this kernel", { skip: noKernel }, () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "uprobe.ts", text: UPROBE }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const loaded = loadObject(sys, openObject(r.object, { name: "uprobe" }));
    try {
      assert.ok(loaded.programs.get("p")!.fd > 0, backend);
    } finally {
      loaded.close();
    }
  }
});

test("tsbpf run stops at a probe's exit(), prints the maps and exits with its code", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-exit-"));
  try {
    const probe = join(dir, "unlinks.ts");
    writeFileSync(probe, UNLINKS(dir));
    const files = [1, 2, 3, 4].map((i) => join(dir, `f${i}`));
    // The command would run for 20 s more: the run ends it at the exit().
    const script = `touch ${files.join(" ")}; rm ${files[0]}; rm ${files[1]}; rm ${files[2]}; rm ${files[3]}; exec sleep 20`;
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const started = Date.now();
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "-c", `sh -c "${script}"`], { encoding: "utf8", env, timeout: 30_000 });
    assert.equal(r.status, 7, r.stderr);
    assert.ok(Date.now() - started < 15_000, "stopped before the command's sleep ended");
    assert.match(r.stderr, /exec sleep 20" exits or until a probe calls exit\(\)/);
    const lines = r.stdout.split("\n");
    // The fourth unlink comes after the exit(): whether the probe saw it before the detach, it counts in neither map.
    assert.deepEqual(lines.filter((l) => l.includes(": unlink ")).map((l) => l.replace(/^.*: unlink /, "")).slice(0, 3), files.slice(0, 3));
    assert.ok(lines.includes("@seen[1]: 2") && /@seen\[0\]: [34]/.test(r.stdout), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Counts unlinks under `dir` by process name; every 100 ms prints the counts and starts again; exits at the 50th tick,
 * should the command not end the run first (under load its last unlink came after an exit at the 8th tick).
 */
const PER_TICK = (dir: string) => `import { tracepoint, interval, exit, comm, readUserStr, HashMap, ArrayMap, type u64, type Str } from "tsbpf";
export const license = "GPL";
export const unlinks = new HashMap<Str<16>, u64>(16);
const ticks = new ArrayMap<u64>(1);
export const p = tracepoint("syscalls", "sys_enter_unlinkat", (ctx) => {
  const path: Str<64> = readUserStr(ctx.pathname);
  if (path.startsWith("${dir}/")) unlinks.increment(comm());
});
export const tick = interval(100, () => {
  unlinks.print();
  unlinks.clear();
  ticks.increment(0);
  if ((ticks.lookup(0) ?? 0) >= 50) exit();
});
`;

test("print() and clear() name their map in the actions map's tag; in the simulator they act after the firing", async () => {
  const r = compile({ fileName: "tick.ts", text: PER_TICK("/tmp/x") }, { tracepointFormat });
  assert.deepEqual(r.diagnostics, []);
  const spec = openObject(r.object, { name: "tick" });
  assert.deepEqual(mapBtfTypes(spec, spec.maps.find((m) => m.name === "tsbpf_actions")!)!.actions, ["unlinks"]);
  const sim = await simulate({ fileName: "uprobe.ts", text: UPROBE.replace("calls.increment(1);", "calls.increment(1);\n  calls.print();\n  calls.clear();\n  calls.increment(9);") });
  const path = sim.kernel.userString("/tmp/gone");
  sim.uprobe("libc.so.6:unlink", { args: [path] });
  // The handler ran to its end before the print and the clear: the print shows what it left, then the map is empty.
  assert.deepEqual(sim.printed(), [{ map: "calls", entries: new Map([[0, 1n], [1, 1n], [9, 1n]]) }]);
  assert.equal(sim.map("calls").toMap().size, 0);
  assert.deepEqual(sim.printed(), []);
  const diagnostics = compile({ fileName: "bad.ts", text: PER_TICK("/tmp/x").replace("unlinks.clear()", "unlinks.clear(1)") }, { tracepointFormat }).diagnostics;
  assert.ok(diagnostics.some((d) => d.code === "TS2554" && d.line === 11), JSON.stringify(diagnostics));
});

test("print(top), bpftrace's print(@m, top), carries the top above the map's index; tsbpf run prints that many of the largest entries", async () => {
  const record = (action: number, arg: number): Uint8Array => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, action, true);
    new DataView(bytes.buffer).setUint32(4, arg, true);
    return bytes;
  };
  const table = new ActionTable(["a", "b"]);
  assert.deepEqual(decodeAction(record(ACTIONS.print, 1), table), { kind: "print", map: "b" });
  assert.deepEqual(decodeAction(record(ACTIONS.print, (10 << 16) | 1), table), { kind: "print", map: "b", top: 10 });
  assert.deepEqual(decodeAction(record(ACTIONS.clear, 0), table), { kind: "clear", map: "a" });
  const entries: [unknown, unknown][] = [["x", 1], ["y", 2], ["z", 3]];
  assert.deepEqual(mapLines(topOf({ map: "c", entries }, 2), false), ["@c[y]: 2", "@c[z]: 3", ""]);
  assert.deepEqual(mapLines(topOf({ map: "c", aggregates: [["x", 1n], ["y", 5n]] }, 1), false), ["@c[y]: 5", ""]);
  assert.deepEqual(topOf({ map: "c", aggregate: 4n }, 1), { map: "c", aggregate: 4n }, "a keyless value is whole");
  const text = (top: string) => PER_TICK("/tmp/x").replace("unlinks.print();", `unlinks.print(${top});`);
  const compiled = compile({ fileName: "top.ts", text: text("2") }, { tracepointFormat });
  assert.deepEqual(compiled.diagnostics, []);
  // The simulator's printed() gives the same top entries, smallest first.
  const sim = await simulate({ fileName: "uprobe.ts", text: UPROBE.replace("calls.increment(1);", "calls.increment(1);\n  calls.increment(1);\n  calls.increment(9);\n  calls.increment(9);\n  calls.increment(9);\n  calls.print(2);") });
  sim.uprobe("libc.so.6:unlink", { args: [sim.kernel.userString("/tmp/gone")] });
  assert.deepEqual(sim.printed(), [{ map: "calls", entries: new Map([[1, 2n], [9, 3n]]) }]);
  const diagnostics = (top: string) => compile({ fileName: "bad.ts", text: text(top) }, { tracepointFormat }).diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`);
  const refused = "TSBPF1005 10:17 print(top) takes a constant from 0 (every entry) to 65535: how many of the largest entries to print";
  assert.deepEqual(diagnostics("ticks.lookup(0) ?? 0"), [refused]);
  assert.deepEqual(diagnostics("70000"), [refused]);
});

test("tsbpf run carries out print() and clear() as they arrive: counts per 100 ms, not a running total", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-tick-"));
  try {
    const probe = join(dir, "tick.ts");
    writeFileSync(probe, PER_TICK(dir));
    const files = [1, 2, 3, 4].map((i) => join(dir, `f${i}`));
    // Two unlinks, then one a second later, then one more: never more than two in a 100 ms tick (a second apart, so
    // that a tick the loaded machine delays by a few hundred milliseconds still takes them apart).
    const script = `touch ${files.join(" ")}; rm ${files[0]}; rm ${files[1]}; sleep 1; rm ${files[2]}; sleep 1; rm ${files[3]}; sleep 0.3`;
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "-c", `sh -c "${script}"`], { encoding: "utf8", env, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const counts = [...r.stdout.matchAll(/^@unlinks\[rm\]: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.equal(counts.reduce((a, b) => a + b, 0), 4, r.stdout);
    assert.ok(counts.length >= 2 && counts.every((n) => n <= 2), r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tsbpf run's print() then clear() of a map loses none of what the probes add meanwhile: the printed counts sum to the total", { skip: noKernel }, () => {
  // 100,000 one-byte reads by dd, counted twice: `reads` printed and cleared every 20 ms, `all` never cleared. A read
  // of the map and a clear after it lost what came between (1-2% of the reads); one read that deletes as it reads
  // loses at most an increment racing the delete of its element.
  const text = `import { tracepoint, interval, HashMap, pidTgid, targetPid, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const reads = new HashMap<u32, u64>(4);
export const all = new HashMap<u32, u64>(4);
tracepoint("syscalls", "sys_enter_read", () => {
  if ((pidTgid() >> 32) !== targetPid()) return;
  reads.increment(0);
  all.increment(0);
});
interval(20, () => { reads.print(); reads.clear(); });
`;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-take-"));
  try {
    const probe = join(dir, "take.ts");
    writeFileSync(probe, text);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "--json", "-c", "dd if=/dev/zero of=/dev/null bs=1 count=100000 status=none"], { encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { map: string; entries: { value: number }[] });
    const printed = lines.filter((l) => l.map === "reads");
    const sum = printed.reduce((n, l) => n + l.entries.reduce((m, e) => m + e.value, 0), 0);
    const total = lines.find((l) => l.map === "all")!.entries[0]!.value;
    assert.ok(total >= 100_000 && printed.length >= 2, r.stdout.slice(0, 1000));
    assert.ok(total - sum >= 0 && total - sum <= 10, `printed ${sum} of ${total} reads`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an aggregate's print() shows its CPUs merged, and clear() empties every CPU's values", async () => {
  const text = `import { uprobe, Max, type u32, type u64 } from "tsbpf";
export const license = "GPL";
export const largest = new Max<u32>(8);
export const p = uprobe("libc.so.6", "malloc", (size: u64) => {
  largest.record(7, size);
  if (size === 0) {
    largest.print();
    largest.clear();
  }
});
`;
  const sim = await simulate({ fileName: "max.ts", text });
  sim.uprobe("libc.so.6:malloc", { args: [100], cpu: 0 });
  sim.uprobe("libc.so.6:malloc", { args: [300], cpu: 1 });
  sim.uprobe("libc.so.6:malloc", { args: [0], cpu: 0 });
  assert.deepEqual(sim.printed(), [{ map: "largest", entries: new Map([[7, 300n]]) }]);
  assert.equal(sim.map("largest").toMap().size, 0);
  sim.uprobe("libc.so.6:malloc", { args: [5], cpu: 1 });
  assert.deepEqual(sim.map("largest").toMap(), new Map([[7, 5n]]));
});

test("in the simulator, what probes print after the first exit() is left out, as tsbpf run leaves it out; end() prints", async () => {
  const text = `import { begin, end, uprobe, printf, exit, type u32 } from "tsbpf";
export const license = "GPL";
begin(() => { printf("begin\\n"); });
export const p = uprobe("libc.so.6", "unlink", (n: u32) => { printf("hit %u\\n", n); exit(3); });
end(() => { printf("end\\n"); });
`;
  const sim = await simulate({ fileName: "after-exit.ts", text });
  sim.begin();
  sim.uprobe("libc.so.6:unlink", { args: [1] });
  sim.uprobe("libc.so.6:unlink", { args: [2] });
  sim.end();
  assert.equal(sim.output(), "begin\nhit 1\nend\n");
  assert.equal(sim.exitCode(), 3);
});
