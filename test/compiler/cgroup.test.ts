// cgroupId(), bpftrace's `cgroup`: bpf_get_current_cgroup_id. In the kernel, through both backends, it gives this
// process's cgroup v2 id, the inode number of its directory under /sys/fs/cgroup; in the simulator, the task's
// `cgroup` (1, the root cgroup's, until a test says otherwise).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { loadObject, openMap, openObject } from "../../runtime/loader/index.js";
import { simulate } from "../../runtime/test/index.js";
import { missingBpf, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { cgroup2Mount, ownCgroupId } from "../support/cgroup.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys) ?? missingTracefs() ?? false;
const BACKENDS = ["own", "llvm"] as const;

/** Counts getppid(2) calls by cgroup: this process's (by pid), and every process's by comm. */
const PROBE = (pid: number) => `import { tracepoint, pidTgid, comm, cgroupId, HashMap, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u64, u64>(16);
export const shells = new HashMap<u64, u64>(64);
export const tp = tracepoint("syscalls", "sys_enter_getppid", () => {
  if (pidTgid() >> 32 === ${pid}) calls.increment(cgroupId());
  else if (comm() === "sh") shells.increment(cgroupId());
});
`;

/** Counts a kprobe's firings by cgroup. */
const SIM_PROBE = `import { kprobe, cgroupId, HashMap, type u64 } from "tsbpf";
export const license = "GPL";
export const calls = new HashMap<u64, u64>(16);
export const kp = kprobe("f", () => { calls.increment(cgroupId()); });
`;

const mount = cgroup2Mount();

test("cgroupId() in the simulator is the task's cgroup: 1 by default, then what a firing or sim.kernel says", async () => {
  for (const backend of BACKENDS) {
    const r = compile({ fileName: "cgroup.ts", text: SIM_PROBE }, { backend });
    const sim = await simulate(r.object, { name: "cgroup" });
    sim.kprobe("f");
    sim.kprobe("f", { cgroup: 4242 });
    sim.kprobe("f");
    sim.kernel.cgroup = 2n ** 63n;
    sim.kprobe("f");
    assert.deepEqual(sim.map("calls").toMap(), new Map([[1n, 1n], [4242n, 2n], [2n ** 63n, 1n]]), backend);
    assert.equal(sim.kernel.cgroup, 2n ** 63n);
    assert.throws(() => sim.kprobe("f", { cgroup: -1 }), /the firing's task\.cgroup must be a cgroup id, a whole number from 0 to 2\^64 - 1/);
    assert.throws(() => (sim.kernel.cgroup = 2n ** 64n), /the task\.cgroup must be a cgroup id/);
  }
});

test("cgroupId() in the kernel is the inode number of the task's cgroup v2 directory, through both backends", { skip: noKernel || (mount === undefined && "no cgroup v2 hierarchy is mounted") }, () => {
  const own = ownCgroupId(mount!);
  // A cgroup of the test's own, for a shell that moves itself into it and then starts another (dash reads its
  // parent's pid at start, a getppid(2) in the new cgroup).
  const dir = `${mount}/tsbpf-test-${process.pid}`;
  mkdirSync(dir);
  try {
    const made = statSync(dir, { bigint: true }).ino;
    for (const backend of BACKENDS) {
      const r = compile({ fileName: "cgroup.ts", text: PROBE(process.pid) }, { backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const loaded = loadObject(sys, openObject(r.object, { name: "cgroup" }));
      try {
        loaded.attach("tp");
        for (let i = 0; i < 3; i++) process.ppid; // each read is a getppid(2)
        const shell = spawnSync("sh", ["-c", `echo $$ > ${dir}/cgroup.procs && exec sh -c true`]);
        assert.equal(shell.status, 0, String(shell.stderr));
        assert.deepEqual([...openMap<bigint, bigint>(loaded, "calls").entries()].map(([k, v]) => [BigInt(k), BigInt(v)]), [[own, 3n]], backend);
        assert.equal(openMap<bigint, bigint>(loaded, "shells").get(made), 1, `${backend}: the shell started in ${dir}`);
      } finally {
        loaded.close();
      }
    }
  } finally {
    rmdirSync(dir);
  }
});
