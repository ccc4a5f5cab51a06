// Tests of FakeSys: kernel-like map semantics and errors, fd numbering and leak tracking, scripted loads and
// test runs, perf events, ids, mmap and readiness — all without a kernel.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AttachType,
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  BpfLoadError,
  Epoll,
  FakeSys,
  LinkType,
  MapType,
  PerfIoc,
  PerfType,
  Poll,
  ProgType,
  Prot,
  SysError,
  listIds,
  type Sys,
} from "../../runtime/sys/index.js";
import { readU32, u32, u64 } from "./helpers.js";

const RET0 = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SysError, String(e));
    return e.code;
  }
  return "no error";
}

test("fake: it is a Sys", () => {
  const sys: Sys = new FakeSys();
  assert.equal(sys.getpid(), process.pid);
  assert.equal(sys.pageSize(), 4096);
});

test("fake: fds are numbered lowest-free from 3 and closes are tracked", () => {
  const sys = new FakeSys();
  const a = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4 });
  const b = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: RET0 }).fd;
  assert.deepEqual([a, b], [3, 4]);
  assert.deepEqual(sys.openFds(), [
    { fd: 3, kind: "map" },
    { fd: 4, kind: "prog" },
  ]);
  sys.close(a);
  assert.equal(sys.epollCreate(), 3);
  assert.deepEqual(sys.leaks(), ["fd 3 (epoll) is open", "fd 4 (prog) is open"]);
  sys.close(3);
  sys.close(4);
  assert.deepEqual(sys.leaks(), []);
  assert.equal(code(() => sys.close(4)), "EBADF");
});

test("fake: hash maps with ANY / NOEXIST / EXIST, E2BIG when full, iteration, delete", () => {
  const sys = new FakeSys();
  const fd = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 2 });
  assert.equal(sys.mapLookup(fd, u32(1)), undefined);
  sys.mapUpdate(fd, u32(1), u64(10n), BPF_NOEXIST);
  assert.equal(code(() => sys.mapUpdate(fd, u32(1), u64(11n), BPF_NOEXIST)), "EEXIST");
  assert.equal(code(() => sys.mapUpdate(fd, u32(2), u64(20n), BPF_EXIST)), "ENOENT");
  sys.mapUpdate(fd, u32(2), u64(20n), BPF_ANY);
  assert.equal(code(() => sys.mapUpdate(fd, u32(3), u64(30n))), "E2BIG");
  sys.mapUpdate(fd, u32(2), u64(21n), BPF_EXIST);
  assert.equal(code(() => sys.mapUpdate(fd, u32(2), u32(0))), "EINVAL");
  const keys: number[] = [];
  for (let k = sys.mapGetNextKey(fd, undefined); k; k = sys.mapGetNextKey(fd, k)) keys.push(readU32(k));
  assert.deepEqual(keys, [1, 2]);
  // An absent key restarts iteration, as in the kernel.
  assert.equal(readU32(sys.mapGetNextKey(fd, u32(99))!), 1);
  sys.mapDelete(fd, u32(1));
  assert.equal(code(() => sys.mapDelete(fd, u32(1))), "ENOENT");
  // Returned values are copies.
  const v = sys.mapLookup(fd, u32(2))!;
  v.fill(0);
  assert.equal(sys.mapLookup(fd, u32(2))![0], 21);
  sys.close(fd);
});

test("fake: array maps exist from the start, refuse NOEXIST and delete, bound indices", () => {
  const sys = new FakeSys();
  const fd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 3 });
  assert.deepEqual([...sys.mapLookup(fd, u32(2))!], [0, 0, 0, 0]);
  assert.equal(sys.mapLookup(fd, u32(3)), undefined);
  sys.mapUpdate(fd, u32(1), u32(7), BPF_EXIST);
  assert.equal(readU32(sys.mapLookup(fd, u32(1))!), 7);
  assert.equal(code(() => sys.mapUpdate(fd, u32(1), u32(7), BPF_NOEXIST)), "EEXIST");
  assert.equal(code(() => sys.mapUpdate(fd, u32(3), u32(7))), "E2BIG");
  assert.equal(code(() => sys.mapDelete(fd, u32(1))), "EINVAL");
  const keys: number[] = [];
  for (let k = sys.mapGetNextKey(fd, undefined); k; k = sys.mapGetNextKey(fd, k)) keys.push(readU32(k));
  assert.deepEqual(keys, [0, 1, 2]);
  assert.equal(code(() => sys.mapCreate({ type: MapType.ARRAY, keySize: 8, valueSize: 4, maxEntries: 1 })), "EINVAL");
  sys.close(fd);
});

test("fake: LRU evicts the least recently used, per-CPU values span every CPU, queue and stack order", () => {
  const sys = new FakeSys({ possibleCpus: 3 });
  const lru = sys.mapCreate({ type: MapType.LRU_HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
  sys.mapUpdate(lru, u32(1), u32(1));
  sys.mapUpdate(lru, u32(2), u32(2));
  sys.mapLookup(lru, u32(1));
  sys.mapUpdate(lru, u32(3), u32(3));
  assert.equal(sys.mapLookup(lru, u32(2)), undefined);
  assert.ok(sys.mapLookup(lru, u32(1)));

  const pc = sys.mapCreate({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(sys.mapLookup(pc, u32(0))!.length, 24);
  assert.equal(code(() => sys.mapUpdate(pc, u32(0), u32(1))), "EINVAL");

  const q = sys.mapCreate({ type: MapType.QUEUE, keySize: 0, valueSize: 4, maxEntries: 2 });
  const s = sys.mapCreate({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 2 });
  for (const fd of [q, s]) for (const n of [1, 2]) sys.mapUpdate(fd, new Uint8Array(), u32(n));
  assert.equal(code(() => sys.mapUpdate(q, new Uint8Array(), u32(3))), "E2BIG");
  assert.equal(readU32(sys.mapLookupAndDelete(q, undefined)!), 1);
  assert.equal(readU32(sys.mapLookupAndDelete(s, undefined)!), 2);
  for (const fd of [lru, pc, q, s]) sys.close(fd);
  assert.deepEqual(sys.leaks(), []);
});

test("fake: frozen maps refuse writes", () => {
  const sys = new FakeSys();
  const fd = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2 });
  sys.mapFreeze(fd);
  assert.equal(code(() => sys.mapUpdate(fd, u32(1), u32(1))), "EPERM");
  sys.close(fd);
});

test("fake: progLoad accepts by default and fails with a scripted log when told", () => {
  const sys = new FakeSys();
  const ok = sys.progLoad({ type: ProgType.KPROBE, insns: RET0, logLevel: 1, name: "p" });
  assert.match(ok.log, /processed 2 insns/);
  assert.equal(sys.program(ok.fd)?.name, "p");
  sys.failNextProgLoad(13, "0: (95) exit\nR0 !read_ok\n");
  try {
    sys.progLoad({ type: ProgType.KPROBE, insns: RET0 });
    assert.fail("scripted failure did not happen");
  } catch (e) {
    assert.ok(e instanceof BpfLoadError);
    assert.equal(e.code, "EACCES");
    assert.match(e.log, /R0 !read_ok/);
    assert.match(e.message, /R0 !read_ok/);
  }
  const again = sys.progLoad({ type: ProgType.KPROBE, insns: RET0 });
  assert.equal(code(() => sys.progLoad({ type: ProgType.KPROBE, insns: new Uint8Array(3) })), "EINVAL");
  sys.close(ok.fd);
  sys.close(again.fd);
});

test("fake: progTestRun returns the scripted result and records the call", () => {
  const sys = new FakeSys();
  const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: RET0 });
  const packet = Uint8Array.of(1, 2, 3);
  assert.deepEqual(sys.progTestRun(fd, { dataIn: packet }), { retval: 0, dataOut: packet, ctxOut: new Uint8Array(), duration: 0 });
  sys.testRun = { retval: 42 };
  assert.equal(sys.progTestRun(fd).retval, 42);
  sys.testRun = (prog, input) => ({ retval: prog.options.type * 100 + (input.dataIn?.length ?? 0) });
  assert.equal(sys.progTestRun(fd, { dataIn: packet }).retval, 103);
  assert.equal(sys.testRuns.length, 3);
  const map = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.equal(code(() => sys.progTestRun(map)), "EINVAL");
  sys.close(map);
  sys.close(fd);
});

test("fake: ids live while an fd or a pin holds the object; fd by id; info", () => {
  const sys = new FakeSys();
  const { fd } = sys.progLoad({ type: ProgType.XDP, insns: RET0, name: "x" });
  const info = sys.progInfo(fd, { xlated: true });
  assert.equal(info.type, ProgType.XDP);
  assert.deepEqual(info.xlatedInsns, RET0);
  assert.deepEqual(listIds(sys, "prog"), [info.id]);
  const second = sys.progGetFdById(info.id);
  sys.close(fd);
  assert.deepEqual(listIds(sys, "prog"), [info.id]);
  sys.objPin(second, "/sys/fs/bpf/x");
  sys.close(second);
  assert.deepEqual(listIds(sys, "prog"), [info.id]);
  const got = sys.objGet("/sys/fs/bpf/x");
  sys.close(got);
  sys.unpin("/sys/fs/bpf/x");
  assert.deepEqual(listIds(sys, "prog"), []);
  assert.equal(code(() => sys.progGetFdById(info.id)), "ENOENT");
  const m = sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 5, name: "m" });
  assert.deepEqual(
    { ...sys.mapInfo(m), id: 0 },
    { type: 1, id: 0, keySize: 4, valueSize: 8, maxEntries: 5, flags: 0, name: "m", ifindex: 0, btfVmlinuxValueTypeId: 0, btfId: 0, btfKeyTypeId: 0, btfValueTypeId: 0, mapExtra: 0n },
  );
  sys.close(m);
  assert.deepEqual(sys.leaks(), []);
});

test("fake: perf events record attr, SET_BPF and enable state; links point at their program", () => {
  const sys = new FakeSys();
  const { fd: prog } = sys.progLoad({ type: ProgType.TRACEPOINT, insns: RET0 });
  const pfd = sys.perfEventOpen({ type: PerfType.TRACEPOINT, config: 123n, flags: 1n });
  assert.equal(sys.perfEvent(pfd)?.enabled, false);
  sys.ioctl(pfd, PerfIoc.SET_BPF, prog);
  sys.ioctl(pfd, PerfIoc.ENABLE);
  assert.equal(sys.perfEvent(pfd)?.progFd, prog);
  assert.equal(sys.perfEvent(pfd)?.enabled, true);
  assert.equal(sys.perfEvent(pfd)?.attr.config, 123n);
  assert.equal(code(() => sys.ioctl(pfd, PerfIoc.SET_BPF, prog)), "EEXIST");
  assert.equal(code(() => sys.ioctl(prog, PerfIoc.ENABLE)), "ENOTTY");
  const link = sys.linkCreate({ progFd: prog, targetFd: pfd, attachType: AttachType.PERF_EVENT });
  assert.deepEqual(sys.linkInfo(link), { type: LinkType.PERF_EVENT, id: 1, progId: sys.progInfo(prog).id });
  for (const fd of [link, pfd, prog]) sys.close(fd);
  assert.deepEqual(sys.leaks(), []);
});

test("fake: a uprobe's ref_ctr_offset is recorded (and refused on other events); a perf link keeps its cookie and needs a perf event", () => {
  const sys = new FakeSys();
  const { fd: prog } = sys.progLoad({ type: ProgType.KPROBE, insns: RET0 });
  const pfd = sys.perfEventOpen({ type: 9, uprobePath: "/bin/true", config2: 0x1000n, refCtrOffset: 0x4020 });
  assert.equal(sys.perfEvent(pfd)?.attr.refCtrOffset, 0x4020);
  assert.equal(code(() => sys.perfEventOpen({ type: PerfType.TRACEPOINT, config: 1n, refCtrOffset: 8 })), "EINVAL");
  const link = sys.linkCreate({ progFd: prog, targetFd: pfd, attachType: AttachType.PERF_EVENT, perfEventCookie: 7n });
  assert.deepEqual(sys.link(link), { progFd: prog, targetFd: pfd, attachType: AttachType.PERF_EVENT, perfEventCookie: 7n });
  assert.equal(code(() => sys.linkCreate({ progFd: prog, targetFd: prog, attachType: AttachType.PERF_EVENT })), "EINVAL");
  assert.equal(code(() => sys.linkCreate({ progFd: prog, targetFd: 999, attachType: AttachType.PERF_EVENT })), "EBADF");
  for (const fd of [link, pfd, prog]) sys.close(fd);
  assert.deepEqual(sys.leaks(), []);
});

test("fake: mmap shares memory between mappings and munmap is tracked; readiness is scripted", async () => {
  const sys = new FakeSys();
  const rb = sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
  const a = sys.mmap(rb, 4096, Prot.READ | Prot.WRITE, 0);
  const b = sys.mmap(rb, 4096, Prot.READ, 0);
  a.bytes[0] = 9;
  assert.equal(b.bytes[0], 9);
  sys.munmap(a);
  assert.equal(sys.leaks().length, 2);
  sys.munmap(b);
  assert.deepEqual(sys.poll([{ fd: rb }], 0), [0]);
  const ep = sys.epollCreate();
  sys.epollCtl(ep, Epoll.CTL_ADD, rb, Epoll.IN, 7n);
  sys.readyFds.add(rb);
  assert.deepEqual(await sys.pollAsync([{ fd: rb }, { fd: 99 }], 10), [Poll.IN, Poll.NVAL]);
  assert.deepEqual(await sys.epollWaitAsync(ep, 8, 10), [{ events: Epoll.IN, data: 7n }]);
  sys.close(ep);
  sys.close(rb);
  assert.deepEqual(sys.leaks(), []);
});
