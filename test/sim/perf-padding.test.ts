// Perf event array records come out of the simulator as the kernel's perf buffer gives them: the raw sample's u32
// size plus its data rounded up to 8 bytes, so 38, 40 and 44 bytes of data all read as 44 (45 as 52), and a
// 44-byte event written with size 40 decodes as the event. Checked against the running kernel's perf buffer
// (a socket filter under BPF_PROG_TEST_RUN) and against `tsbpf load`'s decoding of the same records.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { BtfKind } from "../../compiler/btf/index.js";
import { PerfBuffer, Session, codecFor, objectBtf, type PerfEvent } from "../../runtime/loader/index.js";
import { openSys } from "../../runtime/sys/index.js";
import { compileC, needsClang, needsKernel } from "../loader/support.js";

const SOURCE = `#include "loader.h"
#define BPF_MAP_TYPE_PERF_EVENT_ARRAY 4
#define BPF_F_CURRENT_CPU 0xffffffffULL
static long (*bpf_perf_event_output)(void *ctx, void *map, __u64 flags, void *data, __u64 size) = (void *)25;
struct event { __u32 words[11]; };
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps")
	__attribute__((btf_decl_tag("tsbpf:event=struct event")));
/* A sub-program taking the event, so that its type is in the object's BTF for the tsbpf:event tag. */
static __noinline int emit(void *skb, struct event *e, __u64 size) {
	return bpf_perf_event_output(skb, &events, BPF_F_CURRENT_CPU, e, size);
}
SEC("socket") int out(void *skb) {
	struct { struct event e; __u32 more; } b;
	for (int i = 0; i < 12; i++) ((__u32 *)&b)[i] = i + 1;
	emit(skb, &b.e, 38);
	emit(skb, &b.e, 40);
	emit(skb, &b.e, 44);
	emit(skb, &b.e, 45);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;
const object = (): string => compileC("perf-padding", SOURCE);
const words = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
/** The bytes the program wrote (its u32 words 1, 2, ...), cut to `size`. */
const written = (size: number) => new Uint8Array(new Uint32Array(words(12)).buffer).subarray(0, size);

test("the simulator pads perf records as the kernel does, so a 44-byte event written with size 40 decodes", needsClang, async () => {
  const sim = await simulate(object());
  sim.run("out", new Uint8Array(64));
  const raw = sim.rawEvents("events");
  assert.deepEqual(raw.map((r) => r.length), [44, 44, 44, 52]);
  [38, 40, 44, 45].forEach((size, i) => assert.deepEqual(raw[i]!.subarray(0, size), written(size)));
  assert.deepEqual(raw[0]!.subarray(38), new Uint8Array(6)); // the padding reads as zeros here (the kernel's is stale ring bytes)
  sim.run("out", new Uint8Array(64));
  assert.deepEqual(sim.events("events").slice(1, 3), [{ words: [...words(10), 0] }, { words: words(11) }]);
});

test("the kernel's perf buffer gives the same lengths and bytes, decoded as tsbpf load decodes them", needsKernel, async () => {
  const sys = openSys();
  const session = new Session(sys);
  try {
    const obj = session.loadFile(object());
    const pb = PerfBuffer.open(sys, obj.map("events").fd, {});
    try {
      sys.progTestRun(obj.program("out").fd, { dataIn: new Uint8Array(64), dataSizeOut: 0, repeat: 1 });
      const samples = pb.read().filter((e): e is Extract<PerfEvent, { kind: "sample" }> => e.kind === "sample");
      assert.deepEqual(samples.map((s) => s.data.length), [44, 44, 44, 52]);
      [38, 40, 44, 45].forEach((size, i) => assert.deepEqual(samples[i]!.data.subarray(0, size), written(size)));
      const btf = objectBtf(obj.spec)!;
      const codec = codecFor(btf, btf.find("event", BtfKind.STRUCT)!.id);
      assert.deepEqual((codec.decode(samples[2]!.data) as { words: number[] }).words, words(11));
      assert.deepEqual((codec.decode(samples[1]!.data) as { words: number[] }).words.slice(0, 10), words(10));
    } finally {
      await pb.close();
    }
  } finally {
    await session.close();
  }
});

/** A socket filter that sends a `size`-byte sample 1,000 times and returns how many its CPU's ring took. */
const FILL = (size: number) => `#include "loader.h"
#define BPF_MAP_TYPE_PERF_EVENT_ARRAY 4
#define BPF_F_CURRENT_CPU 0xffffffffULL
static long (*bpf_perf_event_output)(void *ctx, void *map, __u64 flags, void *data, __u64 size) = (void *)25;
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
SEC("socket") int fill(void *skb) {
	char b[${size}] = {};
	int taken = 0;
	for (int i = 0; i < 1000; i++) if (bpf_perf_event_output(skb, &events, BPF_F_CURRENT_CPU, b, sizeof(b)) == 0) taken++;
	return taken;
}
char LICENSE[] SEC("license") = "GPL";
`;
// Each sample costs its 8-byte header and its u32 size and data rounded up to 8: 52 bytes cost 64, 40 cost 56, 100
// cost 112. A ring of 8 pages (32 KiB, what tsbpf run reads with) keeps a byte free, so it takes 511 of 64 bytes, not 512.
const TAKEN = { 52: 511, 40: 585, 100: 292, 4: 1000 };

test("sim.lost() counts what a ring buffer's probe dropped (tsbpf's count) and refuses a map that is no event stream", async () => {
  const sim = await simulate({ fileName: "lost.ts", text: `import { tracepoint, RingBuf, HashMap, type u64 } from "tsbpf";
export const license = "GPL";
const events = new RingBuf<u64>(4096);
const other = new HashMap<u64, u64>(4);
export const p = tracepoint("syscalls", "sys_enter_getpid", () => { events.output(1); other.update(1, 1); });
` }, { tracepointFormats: { "syscalls/sys_enter_getpid": "name: sys_enter_getpid\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\nprint fmt: \"\"\n" } });
  // A 4 KiB ring takes 255 16-byte records (8-byte header, 8-byte value): as the kernel's, it never fills completely.
  for (let i = 0; i < 300; i++) sim.tracepoint("syscalls", "sys_enter_getpid", {});
  assert.equal(sim.lost("events"), 45);
  assert.equal(sim.events("events").length, 255);
  assert.throws(() => sim.lost("other"), /map other is a hash map; lost\(\) counts what ringbuf and perf_event_array maps dropped/);
});

test("a perf event array's ring in the simulator is as large as tsbpf run's and fills as the kernel's: a sample that does not fit is lost", needsClang, async () => {
  for (const [size, taken] of Object.entries(TAKEN)) {
    const sim = await simulate(compileC(`perf-fill-${size}`, FILL(Number(size))));
    assert.equal(sim.run("fill", new Uint8Array(64)).r0, BigInt(taken), `${size}-byte samples`);
    assert.equal(sim.lost("events"), 1000 - taken, "the samples that did not fit, as tsbpf run reports them lost");
    assert.equal(sim.rawEvents("events").length, taken);
    assert.equal(sim.run("fill", new Uint8Array(64)).r0, BigInt(taken), "reading the records made room again");
    assert.equal(sim.lost("events"), 2 * (1000 - taken));
  }
});

test("the kernel's perf ring of 8 pages takes as many samples", needsKernel, async () => {
  const sys = openSys();
  const session = new Session(sys);
  try {
    for (const [size, taken] of Object.entries(TAKEN)) {
      const obj = session.loadFile(compileC(`perf-fill-${size}`, FILL(Number(size))));
      const pb = PerfBuffer.open(sys, obj.map("events").fd, {});
      try {
        assert.equal(sys.progTestRun(obj.program("fill").fd, { dataIn: new Uint8Array(64), dataSizeOut: 0, repeat: 1 }).retval, taken, `${size}-byte samples`);
      } finally {
        await pb.close();
      }
    }
  } finally {
    await session.close();
  }
});
