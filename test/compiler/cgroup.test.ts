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

/** Counts getppid(2) calls by shells in the cgroup at `path` (bpftrace's `/cgroup == cgroupid("PATH")/`). */
const IN_CGROUP = (path: string) => `import { tracepoint, comm, cgroupId, Count } from "tsbpf";
export const license = "GPL";
export const inside = new Count();
export const tp = tracepoint("syscalls", "sys_enter_getppid", () => {
  if (comm() === "sh" && cgroupId() === cgroupId(${JSON.stringify(path)})) inside.increment();
});
`;

/** Counts a kprobe's firings in the cgroup /sys/fs/cgroup/app. */
const SIM_IN_CGROUP = `import { kprobe, cgroupId, Count } from "tsbpf";
export const license = "GPL";
export const inside = new Count();
export const kp = kprobe("f", () => { if (cgroupId() === cgroupId("/sys/fs/cgroup/app")) inside.increment(); });
`;

test("cgroupId(path), bpftrace's cgroupid(): the simulation's id for the path, one it was not given failing the load; a path that is not absolute is refused", async () => {
  for (const backend of BACKENDS) {
    const r = compile({ fileName: "cgroup.ts", text: SIM_IN_CGROUP }, { backend });
    assert.deepEqual(r.diagnostics, [], backend);
    const sim = await simulate(r.object, { name: "cgroup", cgroupIds: { "/sys/fs/cgroup/app": 4242 } });
    sim.kprobe("f", { cgroup: 4242 });
    sim.kprobe("f", { cgroup: 7 });
    assert.deepEqual(sim.map("inside").toArray(), [1n], backend);
    await assert.rejects(simulate(r.object, { name: "cgroup" }), { message: /cgroupId\("\/sys\/fs\/cgroup\/app"\) names a cgroup the simulation was not given an id for: simulate\(probe, \{ cgroupIds: \{ "\/sys\/fs\/cgroup\/app": 4242 \} \}\)/ });
  }
  const relative = compile({ fileName: "cgroup.ts", text: SIM_IN_CGROUP.replace("/sys/fs/cgroup/app", "app") });
  assert.deepEqual(relative.diagnostics.map((d) => d.code), ["TSBPF1017"]);
  assert.match(relative.diagnostics[0]!.message, /cgroupId\(\) takes nothing \(the current task's cgroup\) or a cgroup v2 directory's absolute path/);
});

test("cgroupId(path) in the kernel is that cgroup v2 directory's id, matching cgroupId() of its tasks; a path outside cgroup2 fails the load naming it", { skip: noKernel || (mount === undefined && "no cgroup v2 hierarchy is mounted") }, () => {
  const dir = `${mount}/tsbpf-path-${process.pid}`;
  mkdirSync(dir);
  try {
    for (const backend of BACKENDS) {
      const r = compile({ fileName: "cgroup.ts", text: IN_CGROUP(dir) }, { backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const loaded = loadObject(sys, openObject(r.object, { name: "cgroup" }));
      try {
        loaded.attach("tp");
        spawnSync("sh", ["-c", "exec sh -c true"]); // a shell outside it
        const shell = spawnSync("sh", ["-c", `echo $$ > ${dir}/cgroup.procs && exec sh -c true`]);
        assert.equal(shell.status, 0, String(shell.stderr));
        const perCpu = openMap<number, { count: number }[]>(loaded, "inside").get(0)!;
        assert.equal(perCpu.reduce((n, c) => n + Number(c.count), 0), 1, backend);
      } finally {
        loaded.close();
      }
    }
    const outside = compile({ fileName: "cgroup.ts", text: IN_CGROUP("/proc") });
    assert.throws(() => loadObject(sys, openObject(outside.object, { name: "cgroup" })), { name: "CgroupPathError", message: /^cgroupId\("\/proc"\): not in a cgroup v2 file system/ });
    const missing = compile({ fileName: "cgroup.ts", text: IN_CGROUP(`${dir}/none`) });
    assert.throws(() => loadObject(sys, openObject(missing.object, { name: "cgroup" })), { name: "CgroupPathError", message: /: no such directory; a cgroup v2 directory's path is wanted/ });
  } finally {
    rmdirSync(dir);
  }
});
