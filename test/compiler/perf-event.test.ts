// profile() and interval() through both backends: every program in section perf_event (several sharing it), its
// probe in a tsbpf:perf_event= decl tag on its FUNC, the loader's reading of that tag, the verifier model's view of
// a perf_event context (struct bpf_perf_event_data: pt_regs, sample_period, addr), and what index.ts gives in Node.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compile, type CompileResult } from "../../compiler/index.js";
import { parseBtf, funcTags, BtfKind } from "../../compiler/btf/index.js";
import { readBpfObject } from "../../compiler/elf/index.js";
import { assemble } from "../../compiler/isa/index.js";
import { verify } from "../../compiler/verifier/index.js";
import { openObject } from "../../runtime/loader/index.js";
import { verifyObject } from "../../cli/commands/verify.js";
import * as tsbpf from "../../index.js";
import { noLlvm } from "../llvm/support.js";

const SOURCE = `import { profile, interval, comm, ktimeNs, HashMap, StackTraceMap, ArrayMap, type Str, type u64, type i64 } from "tsbpf";
export const license = "GPL";
export const samples = new HashMap<Str<16>, u64>(1024);
export const stacks = new StackTraceMap(256);
export const good = new ArrayMap<u64>(1);
export const last = new ArrayMap<u64>(1);
export const fast = profile(999, () => {
  samples.increment(comm());
  if (stacks.getStackId() >= 0) good.increment(0);
});
export const tick = interval(250, () => {
  last.update(0, ktimeNs());
});
export const slow = profile(49, () => 0);
`;

const compileWith = (backend: "own" | "llvm"): CompileResult => {
  const r = compile({ fileName: "perf.ts", text: SOURCE }, { backend });
  assert.deepEqual(r.diagnostics, []);
  return r;
};

for (const backend of ["own", "llvm"] as const) {
  describe(`profile() and interval() with the ${backend} backend`, { skip: backend === "llvm" ? noLlvm ?? false : false }, () => {
    it("puts every program in section perf_event, in order, with its kind", () => {
      const r = compileWith(backend);
      assert.deepEqual(
        r.programs.map((p) => [p.name, p.section, p.kind]),
        [["fast", "perf_event", "profile"], ["tick", "perf_event", "interval"], ["slow", "perf_event", "profile"]],
      );
      const obj = readBpfObject(r.object);
      assert.deepEqual(obj.programs.map((p) => [p.name, p.section]), [["fast", "perf_event"], ["tick", "perf_event"], ["slow", "perf_event"]]);
      // One executable section holds all three, one after the other.
      assert.deepEqual(new Set(obj.programs.map((p) => p.section)).size, 1);
      const offsets = obj.programs.map((p) => p.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
      assert.equal(new Set(offsets).size, 3);
    });

    it("tags each program's FUNC with the probe it names, and nothing else with such a tag", () => {
      const btf = parseBtf(compileWith(backend).btf);
      assert.deepEqual(funcTags(btf, "fast"), ["tsbpf:perf_event=profile:hz:999"]);
      assert.deepEqual(funcTags(btf, "tick"), ["tsbpf:perf_event=interval:ms:250"]);
      assert.deepEqual(funcTags(btf, "slow"), ["tsbpf:perf_event=profile:hz:49"]);
      const perfTags = [...btf.types()].filter((t) => t.kind === BtfKind.DECL_TAG && t.name.startsWith("tsbpf:perf_event="));
      assert.equal(perfTags.length, 3);
    });

    it("gives the loader perf_event programs with their targets from the tags", () => {
      const spec = openObject(compileWith(backend).object, { name: "perf" });
      assert.deepEqual(
        spec.programs.map((p) => [p.name, p.type, p.attach]),
        [
          ["fast", 7, { kind: "perf_event", probe: "profile", unit: "hz", rate: 999 }],
          ["tick", 7, { kind: "perf_event", probe: "interval", unit: "ms", rate: 250 }],
          ["slow", 7, { kind: "perf_event", probe: "profile", unit: "hz", rate: 49 }],
        ],
      );
    });

    it("is accepted by the verifier model as perf_event programs", () => {
      const report = verifyObject(compileWith(backend).object);
      assert.deepEqual(report.programs.map((p) => [p.name, p.progType, p.verdict]), [["fast", "perf_event", "accepted"], ["tick", "perf_event", "accepted"], ["slow", "perf_event", "accepted"]]);
    });
  });
}

describe("the verifier model's perf_event context", () => {
  const run = (text: string) => verify(assemble(text), { progType: 7 });
  it("lets a program read pt_regs, sample_period and addr", () => {
    assert.equal(run("r2 = *(u64 *)(r1 +128)\nr0 = 0\nexit").accepted, true, "pt_regs->ip");
    assert.equal(run("r2 = *(u64 *)(r1 +168)\nr0 = 0\nexit").accepted, true, "sample_period");
    assert.equal(run("r2 = *(u32 *)(r1 +176)\nr0 = 0\nexit").accepted, true, "addr's low half");
  });
  it("refuses reads past struct bpf_perf_event_data, narrow reads of pt_regs and any write, as the kernel does", () => {
    assert.match(run("r2 = *(u64 *)(r1 +184)\nr0 = 0\nexit").error!.message, /invalid bpf_context access/);
    assert.match(run("r2 = *(u32 *)(r1 +128)\nr0 = 0\nexit").error!.message, /invalid bpf_context access/);
    assert.match(run("r2 = 1\n*(u64 *)(r1 +168) = r2\nr0 = 0\nexit").error!.message, /invalid bpf_context access/);
  });
});

describe("profile() and interval() in Node", () => {
  it("describe their probe without running the handler", () => {
    assert.deepEqual(tsbpf.profile(99, () => 0), { __tsbpfProbe: true, kind: "profile", section: "perf_event", hz: 99 });
    assert.deepEqual(tsbpf.interval(100, () => assert.fail("the handler runs only in the kernel")), { __tsbpfProbe: true, kind: "interval", section: "perf_event", ms: 100 });
  });
});
