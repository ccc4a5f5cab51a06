// sim.profile() and sim.interval(): tsbpf's profile()/interval() probes and a clang object's tagged SEC("perf_event")
// programs fired in the VM, with the interrupted task, its CPU, its stacks and a struct bpf_perf_event_data context.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { simulate } from "../../runtime/test/index.js";
import { compileC, fixturePath, needsClang } from "../loader/support.js";

const PROBE = {
  fileName: "perf-sim.ts",
  text: `import { profile, interval, comm, pidTgid, smpProcessorId, HashMap, ArrayMap, StackTraceMap, USER_STACK, u32, type Str, type u64, type i64 } from "tsbpf";
export const license = "GPL";
export const byComm = new HashMap<Str<16>, u64>(64);
export const byCpu = new ArrayMap<u64>(8);
export const stacks = new StackTraceMap(64);
export const byStack = new HashMap<i64, u64>(64);
export const userStacks = new HashMap<i64, u64>(64);
export const ticks = new HashMap<u32, u64>(8);
export const sample = profile(99, () => {
  byComm.increment(comm());
  byCpu.increment(smpProcessorId());
  byStack.increment(stacks.getStackId());
  userStacks.increment(stacks.getStackId(USER_STACK));
});
export const slow = profile(7, () => 0);
export const tick = interval(100, () => {
  ticks.increment(u32(pidTgid() >> 32));
});
`,
};

describe("sim.profile and sim.interval on tsbpf probes", () => {
  it("profile() fires every profile probe with the task and CPU it interrupts; interval() only the interval probe", async () => {
    const sim = await simulate(PROBE);
    const r = sim.profile({ cpu: 3, pid: 40, comm: "worker" });
    assert.deepEqual(r.runs.map((x) => [x.program, x.section, x.cpu]), [["sample", "perf_event", 3], ["slow", "perf_event", 3]]);
    assert.deepEqual(sim.profile({ hz: 7 }).runs.map((x) => x.program), ["slow"]);
    assert.deepEqual(sim.map("byComm").toMap(), new Map([["worker", 1n]]));
    assert.deepEqual(sim.map("byCpu").toArray()[3], 1n);
    const t = sim.interval({ pid: 1, comm: "init" });
    assert.deepEqual(t.runs.map((x) => x.program), ["tick"]);
    sim.interval({ ms: 100 });
    assert.deepEqual(sim.map("ticks").toMap(), new Map([[1, 2n]]));
    assert.deepEqual([sim.stats().sample!.runs, sim.stats().slow!.runs, sim.stats().tick!.runs], [1, 2, 2]);
    assert.throws(() => sim.interval({ ms: 250 }), /no interval:ms:250 probe in the object; its programs: sample \(perf_event\), slow \(perf_event\), tick \(perf_event\)/);
  });

  it("getStackId() gives one id per distinct stack the sample interrupts, kernel and user apart", async () => {
    const sim = await simulate(PROBE);
    const a = { kernel: [0xffffffff81001000n, 0xffffffff81002000n], user: [0x401000n] };
    const b = { kernel: [0xffffffff81003000n], user: [0x401000n, 0x402000n] };
    sim.profile({ hz: 99, stacks: a });
    sim.profile({ hz: 99, stacks: b });
    sim.profile({ hz: 99, stacks: a });
    const kernel = [...sim.map("byStack").toMap().entries()];
    assert.equal(kernel.length, 2);
    assert.deepEqual(kernel.map(([, n]) => n).sort(), [1n, 2n]);
    assert.ok(kernel.every(([id]) => Number(id) >= 0), "stack ids, not errors");
    assert.equal(sim.map("userStacks").toMap().size, 2);
    assert.throws(() => sim.profile({ stacks: { kernel: "0xffff" as never } }), /stacks.kernel must be an array of instruction pointers/);
  });
});

describe("sim.profile and sim.interval on a clang object", needsClang, () => {
  it("fire the tagged programs; the untagged one only by name", async () => {
    const sim = await simulate(readFileSync(fixturePath("profile")));
    sim.profile({ cpu: 2, stacks: { kernel: [0xffffffff81001000n] } });
    sim.profile({ cpu: 2, stacks: { kernel: undefined, user: undefined } });
    sim.interval();
    sim.interval();
    assert.equal(sim.map("samples").get(2), 2n);
    assert.equal(sim.global("stacks_recorded"), 1n, "a sample with no stack records none");
    assert.equal(sim.global("ticks"), 2n);
    assert.equal(sim.global("untagged_runs"), 0n);
    sim.run("by_hand", new Uint8Array(184));
    assert.equal(sim.global("untagged_runs"), 1n);
  });

  it("the context is struct bpf_perf_event_data: pt_regs, then sample_period and addr", async () => {
    const object = compileC(
      "perf-ctx",
      `#include "loader.h"
struct bpf_perf_event_data { struct pt_regs regs; __u64 sample_period; __u64 addr; };
__u64 period = 0, ip = 0, addr = 0;
SEC("perf_event") __attribute__((btf_decl_tag("tsbpf:perf_event=profile:hz:100")))
int sample(struct bpf_perf_event_data *ctx) { period = ctx->sample_period; ip = ctx->regs.ip; addr = ctx->addr; return 0; }
SEC("perf_event") __attribute__((btf_decl_tag("tsbpf:perf_event=interval:s:2")))
int every(struct bpf_perf_event_data *ctx) { period = ctx->sample_period; return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const sim = await simulate(readFileSync(object), { arch: "x86_64" });
    sim.profile();
    assert.deepEqual([sim.global("period"), sim.global("ip"), sim.global("addr")], [10_000_000n, 0n, 0n], "a 100 Hz sample's period, in ns");
    sim.profile({ regs: { ip: 0x401234 }, samplePeriod: 12_345, addr: 0xdead });
    assert.deepEqual([sim.global("period"), sim.global("ip"), sim.global("addr")], [12_345n, 0x401234n, 0xdeadn]);
    sim.interval();
    assert.equal(sim.global("period"), 2_000_000_000n);
  });
});
