// Real-kernel leak test: a full round of maps, programs, test runs, info, ids, perf events, links, mmap and epoll
// leaves no fd open in this process and none of the BPF objects it created alive.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { Reg, encode, exit, mov64Imm } from "../../compiler/isa/index.js";
import { AttachType, BpfLoadError, Epoll, MapType, PerfIoc, ProgType, Prot, listIds, missingRoot, missingUprobes, openSys, pmuType } from "../../runtime/sys/index.js";
import { u32, withFds } from "./helpers.js";
import { libcPath, symbolFileOffset } from "./elfsym.js";

const sys = openSys();
const openFdCount = (): number => readdirSync("/proc/self/fd").length;

/** Exercises every kind of fd the real Sys hands out; gives the ids of what it created. */
async function round(): Promise<{ progs: number[]; maps: number[]; links: number[] }> {
  const created = { progs: [] as number[], maps: [] as number[], links: [] as number[] };
  await withFds(sys, async (fds) => {
    const hash = fds.add(sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8 }));
    sys.mapUpdate(hash, u32(1), u32(2));
    sys.mapLookup(hash, u32(1));
    created.maps.push(sys.mapInfo(hash).id);
    fds.add(sys.mapGetFdById(created.maps[0]!));

    const { fd: prog } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode([mov64Imm(Reg.R0, 1), exit()]), logLevel: 1 });
    fds.add(prog);
    created.progs.push(sys.progInfo(prog, { xlated: true, jited: true }).id);
    sys.progTestRun(prog, { dataIn: new Uint8Array(64) });
    fds.add(sys.progGetFdById(created.progs[0]!));
    // A refused load at level 0 is loaded again with a log: neither attempt may leave an fd behind.
    try {
      fds.add(sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode([exit()]) }).fd);
    } catch (e) {
      assert.ok(e instanceof BpfLoadError);
    }

    const { fd: kprobe } = sys.progLoad({ type: ProgType.KPROBE, insns: encode([mov64Imm(Reg.R0, 0), exit()]) });
    fds.add(kprobe);
    created.progs.push(sys.progInfo(kprobe).id);
    if (pmuType("uprobe") !== undefined) {
      const path = libcPath();
      const attr = { type: pmuType("uprobe")!, uprobePath: path, config2: BigInt(symbolFileOffset(path, "getpid")) };
      const pfd = fds.add(sys.perfEventOpen(attr));
      sys.ioctl(pfd, PerfIoc.SET_BPF, kprobe);
      const pfd2 = fds.add(sys.perfEventOpen(attr));
      const link = fds.add(sys.linkCreate({ progFd: kprobe, targetFd: pfd2, attachType: AttachType.PERF_EVENT }));
      created.links.push(sys.linkInfo(link).id);
    }

    const rb = fds.add(sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: sys.pageSize() }));
    created.maps.push(sys.mapInfo(rb).id);
    const m = sys.mmap(rb, sys.pageSize(), Prot.READ | Prot.WRITE, 0);
    sys.munmap(m);
    const ep = fds.add(sys.epollCreate());
    sys.epollCtl(ep, Epoll.CTL_ADD, rb, Epoll.IN);
    sys.epollWait(ep, 1, 0);
    await sys.epollWaitAsync(ep, 1, 0);
    await sys.pollAsync([{ fd: rb }], 0);
    fds.add(sys.enableStats());
  });
  return created;
}

/** Objects go away after an RCU grace period or a work item: wait for that instead of a fixed time. */
async function gone(kind: "prog" | "map" | "link", ids: number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const live = new Set(listIds(sys, kind));
    const left = ids.filter((id) => live.has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("nothing leaks: fd count and the created BPF objects", { skip: missingRoot() ?? false }, async () => {
  // The first round loads koffi and starts libuv's worker threads; measure the second.
  await round();
  const before = openFdCount();
  const created = await round();
  assert.equal(openFdCount(), before, "fds left open in /proc/self/fd");
  assert.ok(created.progs.length >= 2 && created.maps.length >= 2);
  if (!missingUprobes()) assert.equal(created.links.length, 1);
  assert.deepEqual(await gone("prog", created.progs), [], "programs still loaded");
  assert.deepEqual(await gone("map", created.maps), [], "maps still alive");
  assert.deepEqual(await gone("link", created.links), [], "links still alive");
});
