// kstack() and ustack(): ids in the file's own stack map, typed in BTF so that `tsbpf run` prints the frames they
// name in place of the number, as bpftrace prints `@[kstack]` and `@[ustack]`; checked on this kernel with both
// backends.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { BtfKind } from "../../compiler/btf/index.js";
import { loadObject, openObject } from "../../runtime/loader/index.js";
import { mapBtfTypes } from "../../runtime/loader/maps.js";
import { Stack, stackFields } from "../../runtime/loader/stacks.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

const KPROBE = `import { kprobe, kstack, ustack, comm, HashMap, type u64, type Str, type KernelStack, type UserStack } from "tsbpf";
export const license = "GPL";
interface Key { comm: Str<16>; stack: UserStack; kernel: KernelStack }
export const byKernel = new HashMap<KernelStack, u64>(64);
export const byUser = new HashMap<Key, u64>(64);
export const p = kprobe("vfs_read", () => {
  byKernel.increment(kstack());
  byUser.increment({ comm: comm(), stack: ustack(), kernel: kstack() });
});
`;

test("stack ids are typed tsbpf_kstack and tsbpf_ustack in BTF, and their stack map is tagged", () => {
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "stacks.ts", text: KPROBE }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const spec = openObject(r.object, { name: "stacks" });
    const types = (name: string) => mapBtfTypes(spec, spec.maps.find((m) => m.name === name)!)!;
    // Hash maps keyed by the frames, the id a u32: kernel stacks as ips; user stacks as build ids and file offsets
    // (struct bpf_stack_build_id), 32 bytes a frame. bpf_get_stack() fills a per-CPU buffer of the largest.
    const kstacks = spec.maps.find((m) => m.name === "tsbpf_kstacks");
    const ustacks = spec.maps.find((m) => m.name === "tsbpf_ustacks");
    const buffer = spec.maps.find((m) => m.name === "tsbpf_stack_buf");
    assert.ok(kstacks && ustacks && buffer, `${backend}: the stack maps`);
    assert.deepEqual([kstacks.type, kstacks.maxEntries, kstacks.keySize, kstacks.valueSize, kstacks.flags], [1, 4096, 127 * 8, 4, 0], backend);
    assert.deepEqual([ustacks.type, ustacks.maxEntries, ustacks.keySize, ustacks.valueSize, ustacks.flags], [1, 1024, 127 * 32, 4, 0], backend);
    assert.deepEqual([buffer.type, buffer.maxEntries, buffer.keySize, buffer.valueSize], [6, 1, 4, 127 * 32], backend);
    assert.equal(types("tsbpf_stack_buf").internal, true, backend);
    // Beside each, the id -> frames map readers look an id up in: as many entries, tagged with its stack map's name.
    for (const [name, of, frame, entries] of [["tsbpf_kframes", "tsbpf_kstacks", 8, 4096], ["tsbpf_uframes", "tsbpf_ustacks", 32, 1024]] as const) {
      const m = spec.maps.find((x) => x.name === name);
      assert.deepEqual([m?.type, m?.maxEntries, m?.keySize, m?.valueSize], [1, entries, 4, 127 * frame], `${backend} ${name}`);
      assert.deepEqual([types(name).framesOf, types(name).internal, types(name).stacks], [of, true, undefined], `${backend} ${name}`);
    }
    // Fewer frames, more stacks in the same 4 MiB, up to 16384.
    const text = KPROBE.replace("HashMap<KernelStack,", "HashMap<KernelStack<5>,").replace("byKernel.increment(kstack())", "byKernel.increment(kstack(5))").replace("stack: UserStack;", "stack: UserStack<16>;").replace("ustack()", "ustack(16)");
    const limited = compile({ fileName: "stacks.ts", text }, { backend });
    assert.deepEqual(limited.diagnostics, [], backend);
    const limitedMaps = openObject(limited.object, { name: "stacks" }).maps;
    assert.deepEqual(
      ["tsbpf_kstacks_5", "tsbpf_ustacks_16"].map((name) => limitedMaps.find((m) => m.name === name)?.maxEntries),
      [16384, 8192],
      `${backend}: ${limitedMaps.map((m) => m.name).join(", ")}`,
    );
    for (const name of ["tsbpf_kstacks", "tsbpf_ustacks"]) assert.deepEqual([types(name).stacks, types(name).internal], [true, true], `${backend} ${name}`);
    const kernel = types("byKernel");
    assert.deepEqual(stackFields(kernel.btf, kernel.key!), [{ path: [], kind: "kernel", frames: 127 }], backend);
    const user = types("byUser");
    assert.deepEqual(stackFields(user.btf, user.key!), [{ path: ["stack"], kind: "user", frames: 127 }, { path: ["kernel"], kind: "kernel", frames: 127 }], backend);
    const typedef = user.btf.find("tsbpf_ustack", BtfKind.TYPEDEF);
    assert.ok(typedef && typedef.kind === BtfKind.TYPEDEF && user.btf.typeById(typedef.type).name === "unsigned long long", backend);
  }
});

test("a stack key takes only a stack id of its frame limit; the limit is a literal from 1 to 127", () => {
  const diagnostics = (from: string, to: string) => compile({ fileName: "bad.ts", text: KPROBE.replace(from, to) }).diagnostics;
  const limited = diagnostics("byKernel.increment(kstack())", "byKernel.increment(kstack(3))");
  assert.ok(limited.some((d) => d.line === 7 && /KernelStack<3>/.test(d.message)), JSON.stringify(limited));
  const plain = diagnostics("byKernel.increment(kstack())", "byKernel.increment(42)");
  assert.ok(plain.some((d) => d.line === 7 && /KernelStack/.test(d.message)), JSON.stringify(plain));
  for (const bad of ["kstack(0)", "kstack(128)"]) {
    const d = diagnostics("kernel: kstack() }", `kernel: ${bad} as any }`);
    assert.ok(d.some((x) => x.code === "TSBPF1007" && /kstack\(frames\): the frame limit must be an integer literal from 1 to 127/.test(x.message)), JSON.stringify(d));
  }
  const typeLimit = diagnostics("new HashMap<KernelStack, u64>(64)", "new HashMap<KernelStack<0>, u64>(64)");
  assert.ok(typeLimit.some((x) => /KernelStack<N>: the frame limit must be an integer literal from 1 to 127/.test(x.message)), JSON.stringify(typeLimit));
});

test("kstack() and ustack() without a limit, where TypeScript gives them one (a Count<KernelStack<3>>'s key, a UserStack<4> field), fill that limit's stack map", async () => {
  const text = `import { kprobe, kstack, ustack, Count, type KernelStack, type UserStack } from "tsbpf";
export const license = "GPL";
interface Key { stack: UserStack<4> }
export const byKernel = new Count<KernelStack<3>>(64);
export const byUser = new Count<Key>(64);
export const p = kprobe("vfs_read", () => {
  byKernel.increment(kstack());
  byKernel.increment(kstack(3));
  byUser.increment({ stack: ustack() });
});
`;
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "inferred.ts", text }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const stackMaps = openObject(r.object, { name: "inferred" }).maps.filter((m) => m.name.includes("stacks")).map((m) => m.name).sort();
    assert.deepEqual(stackMaps, ["tsbpf_kstacks_3", "tsbpf_ustacks_4"], `${backend}: one stack map per limit, none of 127 frames`);
    // The same stack through kstack() and kstack(3) is one key.
    const sim = await simulate(r.object, { name: "inferred" });
    sim.kprobe("vfs_read", { stacks: { kernel: [0xffffffff81000010n, 0xffffffff81000020n, 0xffffffff81000030n, 0xffffffff81000040n] } });
    assert.deepEqual([...sim.map("byKernel").toMap().values()], [2n], backend);
  }
});

const LIMITED = (pid: number) => `import { tracepoint, pidTgid, kstack, HashMap, Count, type u64, type KernelStack } from "tsbpf";
export const license = "GPL";
export const full = new HashMap<KernelStack, u64>(64);
export const top2 = new HashMap<KernelStack<2>, u64>(64);
export const top3 = new Count<KernelStack<3>>(64);
export const p = tracepoint("syscalls", "sys_enter_openat", () => {
  if (pidTgid() >> 32 !== ${pid}) return;
  full.increment(kstack());
  top2.increment(kstack(2));
  top3.increment(kstack());
});
`;

test("kstack(2) keeps the innermost 2 frames, in a stack map of its own, printed as the full stack's first 2", { skip: noKernel }, async () => {
  const { mapContents } = await import("../../cli/report.js");
  const r = compile({ fileName: "limited.ts", text: LIMITED(process.pid) });
  assert.deepEqual(r.diagnostics, []);
  const spec = openObject(r.object, { name: "limited" });
  assert.deepEqual(spec.maps.filter((m) => m.name.startsWith("tsbpf_")).map((m) => [m.name, m.keySize]), [["tsbpf_kstacks", 127 * 8], ["tsbpf_kframes", 4], ["tsbpf_stack_buf", 4], ["tsbpf_kstacks_2", 2 * 8], ["tsbpf_kframes_2", 4], ["tsbpf_kstacks_3", 3 * 8], ["tsbpf_kframes_3", 4]]);
  const loaded = loadObject(sys, spec);
  try {
    loaded.attachAll();
    for (let i = 0; i < 3; i++) readFileSync("/proc/self/stat");
    const byMap = new Map(mapContents(loaded).map((c) => [c.map, c]));
    const full = byMap.get("full")!;
    const top2 = byMap.get("top2")!;
    assert.ok("entries" in full && "entries" in top2);
    const [fullStack] = full.entries.at(-1)! as [Stack, unknown];
    const [topStack, n] = top2.entries.at(-1)! as [Stack, unknown];
    assert.equal(topStack.frames.length, 2);
    assert.deepEqual(topStack.frames, fullStack.frames.slice(0, 2));
    assert.ok(Number(n) >= 3);
    // kstack() counted in a Count<KernelStack<3>> takes 3 frames, from its own map: the full stack's first 3.
    const top3 = byMap.get("top3")!;
    assert.ok("aggregates" in top3, Object.keys(top3).join(", "));
    const [threeStack, three] = top3.aggregates.at(-1)! as [Stack, unknown];
    assert.deepEqual(threeStack.frames, fullStack.frames.slice(0, 3));
    assert.ok(Number(three) >= 3, String(three));
  } finally {
    loaded.close();
  }
});

const TRACEPOINT = (pid: number) => `import { tracepoint, pidTgid, kstack, comm, HashMap, type u64, type Str, type KernelStack } from "tsbpf";
export const license = "GPL";
interface Key { comm: Str<16>; stack: KernelStack }
export const opens = new HashMap<KernelStack, u64>(64);
export const named = new HashMap<Key, u64>(64);
export const p = tracepoint("syscalls", "sys_enter_openat", () => {
  if (pidTgid() >> 32 !== ${pid}) return;
  opens.increment(kstack());
  named.increment({ comm: comm(), stack: kstack() });
});
`;

test("kernel stacks print as bpftrace prints @[kstack]: frames named from kallsyms, one per line; a failed id is noted", { skip: noKernel }, async () => {
  const { mapContents, mapLines, stackNamer } = await import("../../cli/report.js");
  for (const backend of ["own", "llvm"] as const) {
    const r = compile({ fileName: "opens.ts", text: TRACEPOINT(process.pid) }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const loaded = loadObject(sys, openObject(r.object, { name: "opens" }));
    try {
      loaded.attachAll();
      for (let i = 0; i < 3; i++) readFileSync("/proc/self/stat");
      const contents = mapContents(loaded);
      // The stack map itself is the probe's bookkeeping: only the two counting maps print.
      assert.deepEqual(contents.map((c) => c.map), ["opens", "named"], backend);
      const opens = contents[0]!;
      assert.ok("entries" in opens);
      const [stack, count] = opens.entries.at(-1)!;
      assert.ok(stack instanceof Stack, backend);
      assert.ok(Number(count) >= 3, `${backend}: ${count}`);
      // The tracepoint fires inside the openat system call.
      assert.ok(stack.frames.some((f) => /^do_syscall_64\+\d+$/.test(f)), stack.frames.join(" "));
      const lines = mapLines(opens, false).join("\n");
      assert.match(lines, /^@opens\[\n( {4}[\w.]+\+\d+\n)+\]: \d+/, lines);
      const json = JSON.parse(mapLines(opens, true)[0]!) as { entries: { key: string[]; value: number }[] };
      assert.deepEqual(json.entries.at(-1)!.key, stack.frames);
      // A struct key holding a stack prints as bpftrace's tuple: fields in order, the stack's frames on lines of their own.
      const named = contents[1]!;
      assert.ok("entries" in named);
      assert.match(mapLines(named, false)[named.entries.length - 1]!, /^@named\[node, \n( {4}[\w.]+\+\d+\n)+\]: \d+$/);
      // A failed id names no frames; one of a full stack map (-E2BIG) makes the namer say that map lost stacks, which
      // tsbpf run warns of (another failure, -EFAULT where there was no stack, is no loss).
      assert.equal(stackNamer(loaded).unrecorded.size, 0, backend);
      const map = loaded.map("opens");
      const key = new Uint8Array(map.spec.keySize);
      new DataView(key.buffer).setBigInt64(0, -14n, true);
      sys.mapUpdate(map.fd, key, new Uint8Array(map.spec.valueSize).fill(1));
      assert.ok(mapContents(loaded).some((c) => "entries" in c && c.entries.some(([k]) => k instanceof Stack && k.frames.length === 0)), backend);
      assert.equal(stackNamer(loaded).unrecorded.size, 0, backend);
      new DataView(key.buffer).setBigInt64(0, -7n, true);
      sys.mapUpdate(map.fd, key, new Uint8Array(map.spec.valueSize).fill(1));
      const failed = mapContents(loaded)[0]!;
      assert.ok("entries" in failed && failed.entries.some(([k]) => k instanceof Stack && k.frames.length === 0), backend);
      assert.deepEqual([...stackNamer(loaded).unrecorded.values()], ["kernel"], backend);
    } finally {
      loaded.close();
    }
  }
});

test("in the simulator, kstack() and ustack() count by the stacks a firing gives, ustack's with its process", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "stacks.ts", text: KPROBE });
  const a = { kernel: [0xffff_ffff_8100_0010n, 0xffff_ffff_8100_0020n], user: [0x40_1000n, 0x40_2000n] };
  const b = { kernel: [0xffff_ffff_8100_0030n], user: [0x40_3000n] };
  sim.kprobe("vfs_read", { pid: 7, comm: "cat", stacks: a });
  sim.kprobe("vfs_read", { pid: 7 });
  sim.kprobe("vfs_read", { pid: 9, comm: "cat", stacks: b });
  const kernel = sim.map("byKernel").entries() as [number | bigint, number | bigint][];
  assert.deepEqual(kernel.map(([, n]) => Number(n)).sort(), [1, 2]);
  const ids = new Map(kernel.map(([id, n]) => [Number(n), Number(id)]));
  // The stack map holds each stack's frames, innermost first, under its id: one id a stack, from 1 up, counted
  // across the file's stacks (a's kernel stack 1, its user stack 2, b's kernel stack 3).
  assert.deepEqual(sim.kstack(ids.get(2)!), a.kernel);
  assert.deepEqual(sim.kstack(ids.get(1)!), b.kernel);
  assert.deepEqual([ids.get(2), ids.get(1)], [1, 3]);
  const user = sim.map("byUser").entries() as [{ stack: bigint | number }, number | bigint][];
  const pids = user.map(([k]) => Number(BigInt(k.stack) >> 32n)).sort();
  assert.deepEqual(pids, [7, 9]);
  for (const [k] of user) {
    const pid = Number(BigInt(k.stack) >> 32n);
    assert.deepEqual(sim.ustack(k.stack), pid === 7 ? a.user : b.user);
  }
});

test("in the simulator, a stack another CPU inserted between the lookup and the insert takes that CPU's id (the -EEXIST path)", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const sim = await simulate({ fileName: "stacks.ts", text: KPROBE });
  const stacks = sim.map("tsbpf_kstacks").map as unknown as { updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number; update(key: Uint8Array, value: Uint8Array, flags?: bigint): number };
  const idsFrames = sim.map("tsbpf_kframes").map as unknown as { update(key: Uint8Array, value: Uint8Array, flags?: bigint): number };
  const insert = stacks.updateElem.bind(stacks);
  const other = 77;
  let raced = 0;
  // The first insert of a new stack finds it inserted meanwhile, under id 77, with its frames: as a second CPU that
  // took the same stack at the same moment would leave them.
  stacks.updateElem = (key, value, flags) => {
    if (raced++ === 0) {
      const id = new Uint8Array(4);
      new DataView(id.buffer).setUint32(0, other, true);
      assert.equal(stacks.update(key, id, 1n), 0);
      assert.equal(idsFrames.update(id, key, 0n), 0);
    }
    return insert(key, value, flags);
  };
  const a = { kernel: [0xffff_ffff_8100_0010n, 0xffff_ffff_8100_0020n], user: [0x40_1000n] };
  sim.kprobe("vfs_read", { pid: 7, stacks: a });
  sim.kprobe("vfs_read", { pid: 7, stacks: a });
  const counts = sim.map("byKernel").entries().map(([id, n]) => [Number(id), Number(n)]);
  assert.equal(raced, 1, "one insert: the second firing finds the stack by its lookup");
  assert.deepEqual(counts, [[other, 2]], "both firings counted under the other CPU's id");
  assert.deepEqual(sim.kstack(other), a.kernel);
  // The id the loser took goes unused: its frames, put under it before the insert, are deleted again.
  assert.deepEqual(sim.map("tsbpf_kframes").entries().map(([id]) => Number(id)), [other]);
});

test("in the simulator, sim.kstack() and sim.ustack() give the frames a stack value stands for, whatever map or event holds it", async () => {
  const { simulate } = await import("../../runtime/test/index.js");
  const text = `import { kprobe, kstack, ustack, HashMap, RingBuf, type KernelStack, type UserStack, type u64 } from "tsbpf";
export const license = "GPL";
interface Ev { k: KernelStack<2>; u: UserStack }
export const byKernel = new HashMap<KernelStack, u64>(16);
export const events = new RingBuf<Ev>(4096);
export const f = kprobe("vfs_read", () => { byKernel.increment(kstack()); events.output({ k: kstack(2), u: ustack() }); });`;
  const sim = await simulate({ fileName: "stack-frames.ts", text });
  const a = { kernel: [0xffff_ffff_8100_0010n, 0xffff_ffff_8100_0020n, 0xffff_ffff_8100_0030n], user: [0x40_1000n, 0x40_2000n] };
  sim.kprobe("vfs_read", { pid: 7 }); // no stacks given yet: none is taken
  sim.kprobe("vfs_read", { pid: 7, stacks: a });
  const [none, taken] = sim.events<{ k: number | bigint; u: number | bigint }>("events");
  assert.equal(sim.kstack(none!.k, 2), undefined);
  assert.equal(sim.ustack(none!.u), undefined);
  assert.deepEqual(sim.kstack(taken!.k, 2), a.kernel.slice(0, 2), "kstack(2) keeps the innermost two frames");
  assert.deepEqual(sim.ustack(taken!.u), a.user, "the process in the value's high half is no part of the id");
  const [[key]] = sim.map("byKernel").entries().filter(([k]) => sim.kstack(k as bigint, 127) !== undefined);
  assert.deepEqual(sim.kstack(key as bigint, 127), a.kernel);
  // Kernel stacks of two limits: the call says which; a limit the probe does not take, or a kind it has none of, is refused.
  assert.throws(() => sim.kstack(key as bigint), /^SimulationError: the probe takes kstack\(\) of 127, 2 frames: say which, sim\.kstack\(value, 127\)$/);
  assert.throws(() => sim.kstack(key as bigint, 5), /^SimulationError: the probe takes kstack\(\) of 127, 2 frames, not 5$/);
  const plain = await simulate({ fileName: "no-stacks.ts", text: `import { kprobe } from "tsbpf";\nexport const license = "GPL";\nexport const f = kprobe("vfs_read", () => 0);` });
  assert.throws(() => plain.ustack(1), /^SimulationError: the probe takes no ustack\(\)$/);
  assert.throws(() => sim.ustack("1" as never), /ustack\(\)'s value: expected a number, bigint or pointer, got the string "1"/);
});

const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

/**
 * A program with frame pointers whose leaf() a uprobe counts by user stack: main -> mid -> leaf, `n` times (argv[1]),
 * then it waits for stdin to close. leaf() calls out, so it opens with `push %rbp`: at such an entry the kernel takes
 * the caller from the return address, which the frame pointer chain does not yet hold.
 */
function buildTarget(dir: string): string {
  const c = join(dir, "target.c");
  writeFileSync(c, `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return getppid() + x; }
__attribute__((noinline)) int mid(int x) { return leaf(x) + 2; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;
  for (int i = 0; i < n; i++) { s += mid(i); usleep(argc > 2 ? atoi(argv[2]) * 1000 : 0); }
  printf("ready %d\\n", s);
  fflush(stdout);
  char b;
  while (argc <= 2 && read(0, &b, 1) > 0) {}
  return 0;
}
`);
  const bin = join(dir, "target");
  execFileSync("gcc", ["-O1", "-fno-omit-frame-pointer", "-o", bin, c]);
  return bin;
}

const UPROBE = (bin: string) => `import { uprobe, ustack, HashMap, type u64, type UserStack } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<UserStack, u64>(64);
export const p = uprobe("${bin}", "leaf", () => {
  calls.increment(ustack());
});
`;

test("user stacks print as bpftrace prints @[ustack]: named by build id after the process has gone", { skip: noKernel ?? noGcc }, async () => {
  const { mapContents, mapLines, stackNamer } = await import("../../cli/report.js");
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-"));
  try {
    const bin = buildTarget(dir);
    const r = compile({ fileName: "calls.ts", text: UPROBE(bin) });
    assert.deepEqual(r.diagnostics, []);
    for (const given of [false, true]) {
      const loaded = loadObject(sys, openObject(r.object, { name: "calls" }));
      try {
        loaded.attachAll();
        // It runs and exits before anything reads its mappings.
        execFileSync(bin, ["4", "0"]);
        // The program is in no directory searched: found only when given (tsbpf run gives its command and probed files).
        if (given) stackNamer(loaded).addFiles([bin]);
        const [content] = mapContents(loaded);
        assert.ok(content && "entries" in content);
        assert.equal(content.entries.length, 1);
        const [stack, count] = content.entries[0]!;
        assert.equal(Number(count), 4);
        assert.ok(stack instanceof Stack);
        if (!given) {
          // A frame no file was found for: the offset in the file and its build id.
          assert.match(stack.frames[0]!, /^0x[0-9a-f]+ \(build id [0-9a-f]{40}\)$/, stack.frames.join(" "));
          continue;
        }
        assert.deepEqual(stack.frames.slice(0, 3).map((f) => f.replace(/\d+$/, "N")), ["leaf+N", "mid+N", "main+N"]);
        assert.equal(stack.frames[0], "leaf+0");
        // libc's frame: its file found among the library directories.
        assert.match(stack.frames[3] ?? "", /^__libc_start_call_main\+\d+$|^__libc_start_main/, stack.frames.join(" "));
        assert.match(mapLines(content, false).join("\n"), /^@calls\[\n {4}leaf\+0\n {4}mid\+\d+\n {4}main\+\d+\n/);
      } finally {
        loaded.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tsbpf run -c names the user stacks of a command that has long exited when the maps print", { skip: noKernel ?? noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-run-"));
  try {
    const bin = buildTarget(dir);
    const probe = join(dir, "calls.ts");
    writeFileSync(probe, UPROBE(bin));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    // It exits at once, long before the run's first look at the maps: its frames are named by build id.
    const out = execFileSync(process.execPath, [...CLI, "run", probe, "-c", `${bin} 3 0`], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
    assert.match(out, /@calls\[\n {4}leaf\+0\n {4}mid\+\d+\n {4}main\+\d+\n[\s\S]*\]: 3\n/, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("examples/cpu-stacks.ts under tsbpf run -c: a command's samples by kernel and user stack, both named", { skip: noKernel }, () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const out = execFileSync(process.execPath, [...CLI, "run", "examples/cpu-stacks.ts", "-c", "dd if=/dev/zero of=/dev/null bs=1M count=6000"], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
  // bpftrace's tuple: the name, the kernel stack's frames, then the user stack's; dd spends its time in read(2) and write(2).
  const entries = [...out.matchAll(/@samples\[dd, ((?:\n {4}\S+)*\n?), ((?:\n {4}\S+)*\n?)\]: (\d+)/g)];
  assert.ok(entries.length > 0, out);
  assert.ok(entries.some((e) => /\n {4}do_syscall_64\+\d+/.test(e[1]!) && /\n {4}(__)?(read|write)\+\d+/.test(e[2]!)), out);
});

test("stack ids in ring buffer records print as their frames, as bpftrace's printf(\"%s\", ustack) does", { skip: noKernel ?? noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-events-"));
  try {
    const bin = buildTarget(dir);
    const probe = join(dir, "events.ts");
    writeFileSync(probe, `import { uprobe, ustack, pidTgid, RingBuf, u32, type UserStack } from "tsbpf";
export const license = "GPL";
interface Call { pid: u32; stack: UserStack }
export const calls = new RingBuf<Call>(4096);
export const p = uprobe("${bin}", "leaf", () => {
  calls.output({ pid: u32(pidTgid() >> 32), stack: ustack() });
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const run = (json: boolean) =>
      execFileSync(process.execPath, [...CLI, "run", probe, "-c", `${bin} 2 0`, ...(json ? ["--json"] : [])], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
    assert.match(run(false), /^calls: \{ pid: \d+, stack: \[ 'leaf\+0', 'mid\+\d+', 'main\+\d+'/m);
    const records = run(true).split("\n").filter((l) => l.startsWith('{"map":"calls"')).map((l) => JSON.parse(l) as { value: { stack: string[] } });
    assert.equal(records.length, 2);
    for (const r of records) {
      assert.equal(r.value.stack[0], "leaf+0");
      assert.match(r.value.stack[1]!, /^mid\+\d+$/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a Node.js program's JIT frames are named from the perf map node --perf-basic-prof writes", { skip: noKernel }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-jit-"));
  try {
    const script = join(dir, "busy.js");
    writeFileSync(script, "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nlet s = 0;\nconst end = Date.now() + 600;\nwhile (Date.now() < end) s += fib(20);\nconsole.log(s > 0);\n");
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    // In its own directory: with --perf-basic-prof, V8 also writes an isolate-*.log into the working directory.
    const command = `sh -c 'cd ${dir} && exec ${process.execPath} --perf-basic-prof ${script}'`;
    const out = execFileSync(process.execPath, [...CLI, "run", "examples/cpu-stacks.ts", "--json", "-c", command], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
    const samples = JSON.parse(out.split("\n").find((l) => l.startsWith('{"map":"samples"'))!) as { entries: { key: { user: string[] } }[] };
    const frames = samples.entries.flatMap((e) => e.key.user);
    assert.ok(frames.some((f) => /^JS:\*?fib .*busy\.js:1:\d+\+\d+$/.test(f)), frames.slice(0, 40).join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // The perf map our node wrote (other tests may have theirs in /tmp meanwhile).
    for (const f of readdirSync("/tmp").filter((f) => /^perf-\d+\.map$/.test(f))) {
      const path = join("/tmp", f);
      try {
        if (readFileSync(path, "utf8").includes(dir)) rmSync(path, { force: true });
      } catch {
        // Gone already.
      }
    }
  }
});

/**
 * A program with frame pointers that reaches leaf() by every path of `levels` calls of a() or b() (argv[1]), each path
 * `rounds` times (argv[2]): 2^levels distinct user stacks, each seen `rounds` times; with argv[3], sleeping that many
 * microseconds after each path (a stream of stacks a reader meets one at a time rather than all at once).
 */
function buildPaths(dir: string): string {
  const c = join(dir, "paths.c");
  writeFileSync(c, `#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return getppid() + x; }
int b(int n, unsigned path);
__attribute__((noinline)) int a(int n, unsigned path) { int r = n ? (path & 1 ? a(n - 1, path >> 1) : b(n - 1, path >> 1)) : leaf(path); return r + 1; }
__attribute__((noinline)) int b(int n, unsigned path) { int r = n ? (path & 1 ? a(n - 1, path >> 1) : b(n - 1, path >> 1)) : leaf(path); return r + 2; }
int main(int argc, char **argv) {
  int levels = atoi(argv[1]), rounds = atoi(argv[2]), pause = argc > 3 ? atoi(argv[3]) : 0, s = 0;
  for (int round = 0; round < rounds; round++)
    for (unsigned path = 0; path < 1u << levels; path++) {
      s += a(levels, path);
      if (pause) usleep(pause);
    }
  return s == 1 ? 1 : 0;
}
`);
  const bin = join(dir, "paths");
  execFileSync("gcc", ["-O1", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-o", bin, c]);
  return bin;
}

test("thousands of distinct user stacks each get an id of their own, the same stack always the same one: none is lost but to a full map", { skip: noKernel ?? noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-paths-"));
  try {
    const bin = buildPaths(dir);
    const probe = join(dir, "paths.ts");
    // ustack(16)'s map holds 8192 stacks; a stack trace map of 8192 buckets lost 846 of these 4096 to collisions.
    writeFileSync(probe, `import { uprobe, ustack, Count, type UserStack } from "tsbpf";
export const license = "GPL";
export const paths = new Count<UserStack<16>>(8192);
export const p = uprobe("${bin}", "leaf", () => {
  paths.increment(ustack());
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "--json", "-c", `${bin} 12 2`], { encoding: "utf8", env, maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not recorded|warning/, r.stderr);
    const maps = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { map?: string; entries?: { key: string[]; value: number }[] });
    const entries = maps.find((m) => m.map === "paths")?.entries ?? [];
    // Every path is a stack of its own, counted twice under one id; their frames differ.
    assert.equal(entries.length, 4096, r.stdout.slice(0, 2000));
    assert.ok(entries.every((e) => e.value === 2), JSON.stringify(entries.filter((e) => e.value !== 2).slice(0, 3)));
    assert.equal(new Set(entries.map((e) => e.key.join(";"))).size, 4096);
    assert.ok(entries.every((e) => e.key[0] === "leaf+0" && e.key.length === 16), JSON.stringify(entries[0]));
    // ustack()'s map holds 1024 full stacks: the rest fail (-E2BIG), count as one stack of no frames, and are warned of.
    writeFileSync(probe, readFileSync(probe, "utf8").replace("UserStack<16>", "UserStack"));
    const full = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "--json", "-c", `${bin} 12 1`], { encoding: "utf8", env, maxBuffer: 1 << 28 });
    assert.equal(full.status, 0, full.stderr);
    assert.match(full.stderr, /warning: some user stacks were not recorded \(their entries show no frames\): tsbpf_ustacks, the stack map of 1024 stacks, was full, or tsbpf_uframes, which names each id's frames, was\n/);
    const fullEntries = full.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { map?: string; entries?: { key: string[]; value: number }[] }).find((m) => m.map === "paths")?.entries ?? [];
    assert.equal(fullEntries.filter((e) => e.key.length > 0).length, 1024);
    assert.deepEqual(fullEntries.filter((e) => e.key.length === 0).map((e) => e.value), [4096 - 1024]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("printf's %s streams thousands of distinct user stacks, each printed with its frames, each id looked up once", { skip: noKernel ?? noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-stream-"));
  try {
    const bin = buildPaths(dir);
    const probe = join(dir, "stream.ts");
    // 2048 distinct stacks, one every 100 us: the reader meets a new id with nearly every record.
    writeFileSync(probe, `import { uprobe, ustack, printf } from "tsbpf";
export const license = "GPL";
export const p = uprobe("${bin}", "leaf", () => {
  printf("from:%s--\\n", ustack(16));
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, [...CLI, "run", probe, "--no-cache", "-c", `${bin} 11 1 100`], { encoding: "utf8", env, maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not recorded|warning|lost/, r.stderr);
    const printed = r.stdout.split("from:\n").slice(1).map((s) => s.slice(0, s.indexOf("--\n")).trimEnd().split("\n").map((f) => f.trim()));
    assert.equal(printed.length, 2048, r.stdout.slice(0, 2000));
    // leaf(), the 12 calls of a() and b() and main() at least.
    const named = (frames: string[]) => frames.length >= 14 && frames[0] === "leaf+0" && frames.slice(1, 13).every((f) => /^[ab]\+\d+$/.test(f));
    assert.ok(printed.every(named), JSON.stringify(printed.find((f) => !named(f))));
    assert.equal(new Set(printed.map((frames) => frames.join(";"))).size, 2048);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("printf's %s of a kstack() or ustack() writes the frames, as bpftrace's printf(\"%s\", ustack) does", { skip: noKernel ?? noGcc }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-ustack-printf-"));
  try {
    const bin = buildTarget(dir);
    const probe = join(dir, "printf.ts");
    writeFileSync(probe, `import { uprobe, ustack, printf } from "tsbpf";
export const license = "GPL";
export const p = uprobe("${bin}", "leaf", () => {
  printf("leaf from:%s--\\n", ustack(3));
});
`);
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const out = execFileSync(process.execPath, [...CLI, "run", probe, "--no-cache", "-c", `${bin} 2 0`], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] });
    const printed = out.match(/leaf from:\n {8}leaf\+0\n {8}mid\+\d+\n {8}main\+\d+\n--\n/g);
    assert.equal(printed?.length, 2, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in the simulator, printf's %s of a stack writes the firing's instruction pointers, from both backends", async () => {
  for (const backend of ["own", "llvm"] as const) {
    const sim = await simulate({ fileName: "k.ts", text: `import { kprobe, kstack, ustack, printf, type KernelStack } from "tsbpf";
export const license = "GPL";
export const k = kprobe("f", () => { const s: KernelStack<2> = kstack(2); printf("k:%s u:%s|\\n", s, ustack()); });` }, { backend });
    sim.kprobe("f", { stacks: { kernel: [0xffffffff81000010n, 0xffffffff81000020n, 0xffffffff81000030n], user: [0x401000n] } });
    assert.equal(sim.output(), "k:\n        0xffffffff81000010\n        0xffffffff81000020\n u:\n        0x401000\n|\n", backend);
    // No stack taken: the id is negative, and printf says so rather than inventing frames.
    sim.kprobe("f", { stacks: { kernel: [], user: [] } });
    assert.match(sim.output(), /^k:kstack#-\d+ u:ustack#\d+\|\n$/, backend);
  }
});
