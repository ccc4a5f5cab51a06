// Leak tests against the kernel: 200 load/attach/detach cycles of a tracepoint object; 25 rounds of load, attach and close (tracepoint object with legacy map and
// global data, uprobe object with a BTF map, perf_event object with profile and interval probes and a tp_btf program
// attached every 10th round, trace_pipe opened) leave no program, map or link created by the
// test alive and the process's fd count unchanged. Failed loads and attaches release what they created too, and a trace pipe
// closed synchronously mid-poll (a second Ctrl-C) removes its tracefs instance all the same, and the uprobe
// definitions a killed run left are swept by the next run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { probeEventsFile, removeAbandoned } from "../../runtime/loader/probe-events.js";
import { listIds, missingRoot, missingTracefs, openSys } from "../../runtime/sys/index.js";
import { AttachError, LoadError, Session, TracePipe } from "../../runtime/loader/index.js";
import { fixture, fixturePath, heldLinks, needsKernel, openFdCount } from "./support.js";

const sys = openSys();
const ROUNDS = 25;

/** Objects go away after an RCU grace period: wait for that rather than a fixed time. */
async function stillAlive(kind: "prog" | "map" | "link", ids: Set<number>): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = listIds(sys, kind).filter((id) => ids.has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test(`${ROUNDS} load/attach/close rounds leave no BPF objects and no fds behind`, needsKernel, async () => {
  const tp = fixture("tracepoint");
  const up = fixture("uprobe");
  const kp = fixture("kprobe");
  const pe = fixture("profile");
  const rejected = fixture("rejected");
  const tpBtf = fixturePath("tp-btf");
  const before = { prog: new Set(listIds(sys, "prog")), map: new Set(listIds(sys, "map")), link: new Set(listIds(sys, "link")) };
  const created = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };

  const round = async (i: number) => {
    const session = new Session(sys);
    try {
      for (const [bytes, name] of [[tp, "tracepoint"], [up, "uprobe"], [pe, "profile"]] as const) {
        const obj = session.load(bytes, { name });
        for (const p of obj.programs.values()) created.prog.add(sys.progInfo(p.fd).id);
        for (const m of obj.maps.values()) created.map.add(sys.mapInfo(m.fd).id);
        // Detaching a perf event waits for an RCU tasks grace period (~100 ms): uprobes and the profile and interval
        // probes (a perf link and a cpu-clock event per CPU) attach every 10th round.
        if (name === "tracepoint" || i % 10 === 0) obj.attachAll();
        for (const id of heldLinks()) created.link.add(id);
      }
      // A tp_btf program, whose link is a raw tracepoint link.
      const rawTp = session.loadFile(tpBtf, { name: "tp_btf", programs: ["on_exec"] });
      for (const p of rawTp.programs.values()) created.prog.add(sys.progInfo(p.fd).id);
      if (i % 10 === 0) rawTp.attachAll();
      for (const id of heldLinks()) created.link.add(id);
      // A failed attach and a refused load must not leave anything either.
      assert.throws(() => session.load(kp, { name: "kprobe" }).attachAll(), AttachError);
      assert.throws(() => session.load(rejected, { name: "rejected" }), LoadError);
      const pipe = session.tracePipe();
      if (i % 10 === 0) await pipe.waitFor(() => false, 1);
    } finally {
      await session.close();
    }
  };

  // The first round loads koffi and starts libuv's worker threads; count fds from the second.
  await round(0);
  const fds = openFdCount();
  for (let i = 1; i < ROUNDS; i++) await round(i);
  assert.equal(openFdCount(), fds, "fds left open in /proc/self/fd");

  for (const kind of ["prog", "map", "link"] as const) {
    const left = await stillAlive(kind, created[kind]);
    assert.deepEqual(left, [], `${kind} ids created by the test are still alive`);
    // Whatever is alive now and was not before belongs to someone else: none of it may be ours.
    const fresh = listIds(sys, kind).filter((id) => !before[kind].has(id));
    assert.deepEqual(fresh.filter((id) => created[kind].has(id)), []);
  }
  assert.ok(created.prog.size >= ROUNDS * 6 && created.map.size >= ROUNDS * 5, `created ${created.prog.size} programs and ${created.map.size} maps`);
  assert.ok(created.link.size >= (ROUNDS / 10) * 2, `created ${created.link.size} links`);
});

test("200 load, attach and detach cycles of one object in one process leave no program, map, link or fd", needsKernel, async () => {
  const tp = fixture("tracepoint");
  const created = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };
  const cycle = (): Promise<void> => {
    const session = new Session(sys);
    const obj = session.load(tp, { name: "tracepoint" });
    for (const p of obj.programs.values()) created.prog.add(sys.progInfo(p.fd).id);
    for (const m of obj.maps.values()) created.map.add(sys.mapInfo(m.fd).id);
    const { attached } = obj.attachAll();
    assert.equal(attached.length, 1);
    for (const id of heldLinks()) created.link.add(id);
    // As tsbpf run detaches: each attachment closed on a worker thread, then the rest released.
    return session.detachAll().then(() => session.close());
  };
  await cycle();
  const fds = openFdCount();
  // A detach waits for RCU grace periods (~60 ms a cycle here): eight closes in flight at a time overlap those waits.
  const closing = new Set<Promise<void>>();
  for (let i = 1; i < 200; i++) {
    const done = cycle().finally(() => closing.delete(done));
    closing.add(done);
    if (closing.size >= 8) await Promise.race(closing);
  }
  await Promise.all(closing);
  assert.equal(openFdCount(), fds, "fds left open in /proc/self/fd");
  for (const kind of ["prog", "map"] as const) assert.deepEqual(await stillAlive(kind, created[kind]), [], `${kind} ids created by the cycles are still alive`);
  assert.ok(created.prog.size >= 200 && created.map.size >= 200, `created ${created.prog.size} programs and ${created.map.size} maps`);
});

test("closing a trace pipe synchronously while its poll is in flight (a second Ctrl-C) removes its tracefs instance", { skip: missingRoot() ?? missingTracefs() ?? false }, async () => {
  const pipe = TracePipe.open({ sys });
  assert.ok(pipe.instance, "a private instance was made");
  // Reading until closed: between lines, lines() waits in a poll on a worker thread.
  const reading = (async () => {
    for await (const _ of pipe.lines());
  })();
  await new Promise((resolve) => setTimeout(resolve, 20));
  pipe.closeSync();
  assert.equal(existsSync(pipe.instance), false, `${pipe.instance} is left behind`);
  await reading;
});

test("a run sweeps the uprobe definitions a killed run left, even when it attaches through the PMUs and defines none", { skip: missingRoot() ?? (probeEventsFile("uprobe") ? false : "no uprobe_events in tracefs") }, () => {
  const file = probeEventsFile("uprobe")!;
  // A process that is gone: a child that has exited.
  const dead = spawnSync("true").pid!;
  const name = `tsbpf_${dead}/p_swept_0`;
  appendFileSync(file, `p:${name} /bin/true:0x1000\n`);
  try {
    removeAbandoned();
    assert.doesNotMatch(readFileSync(file, "utf8"), new RegExp(name), `${name} is left behind`);
  } finally {
    try {
      appendFileSync(file, `-:${name}\n`);
    } catch {
      // removed by the sweep
    }
  }
});
