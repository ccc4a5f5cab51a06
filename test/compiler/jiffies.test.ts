// jiffies() and numaNodeId(), bpftrace's `jiffies` and `numaid`: bpf_jiffies64() and bpf_get_numa_node_id(), in both
// backends, the simulator (jiffies from its clock at 4 ms a tick, node 0) and this kernel (against /proc/timer_list).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { disassemble } from "../../compiler/isa/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, jiffies, numaNodeId, printf, HashMap, type i32, type u64 } from "tsbpf";
export const license = "GPL";
export const byNode = new HashMap<i32, u64>(8);
export const p = uprobe("/bin/true", "main", () => {
  byNode.increment(numaNodeId());
  printf("%lu %d\\n", jiffies(), numaNodeId());
});
`;

describe("jiffies() and numaNodeId()", () => {
  it("call bpf_jiffies64 and bpf_get_numa_node_id, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "j.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const text = r.programs.map((p) => disassemble(p.insns).join("\n")).join("\n");
      assert.match(text, /call bpf_jiffies64#118/, backend);
      assert.match(text, /call bpf_get_numa_node_id#42/, backend);
    }
  });

  it("in the simulator, give the simulated clock's ticks (4 ms each) and node 0", async () => {
    const sim = await simulate({ fileName: "j.ts", text: SOURCE }, { arch: "x86_64", time: 2_000_000_000n });
    sim.uprobe("/bin/true:main");
    assert.equal(sim.output(), "500 0\n");
    assert.deepEqual(sim.map("byNode").toMap(), new Map([[0, 1n]]));
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys()) ?? (existsSync("/proc/timer_list") ? undefined : "no /proc/timer_list to compare jiffies with");

describe("jiffies() on this kernel", { skip: noKernel }, () => {
  it("tsbpf run prints the kernel's jiffies, between /proc/timer_list's before and after, and node 0 here", () => {
    const timerJiffies = () => BigInt(/^jiffies: (\d+)$/m.exec(readFileSync("/proc/timer_list", "utf8"))![1]!);
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-jiffies-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const file = join(dir, "j.ts");
      writeFileSync(file, `import { begin, jiffies, numaNodeId, printf, exit } from "tsbpf";
export const license = "GPL";
export const b = begin(() => { printf("%lu %d\\n", jiffies(), numaNodeId()); exit(); });
`);
      const before = timerJiffies();
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache"], { encoding: "utf8", env, timeout: 60_000 });
      const after = timerJiffies();
      assert.equal(r.status, 0, r.stderr);
      const m = /^(\d+) (-?\d+)\n$/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.ok(BigInt(m[1]!) >= before && BigInt(m[1]!) <= after, `${before} <= ${m[1]} <= ${after}`);
      // One node here, as bpftrace 0.17's `BEGIN { printf("%d\n", numaid); exit(); }` prints it.
      const nodes = existsSync("/sys/devices/system/node") ? readFileSync("/sys/devices/system/node/online", "utf8").trim() : "0";
      if (nodes === "0") assert.equal(m[2], "0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
