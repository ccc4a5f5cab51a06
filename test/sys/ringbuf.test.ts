// Real-kernel memory and waiting tests: mmap of a BPF ring buffer (consumer page read-write, producer page and
// data read-only), a record written by a test-run program read from the mapping, and poll/epoll readiness.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AluOp, Helper, Reg, Size, alu64Imm, call, encode, exit, ldMapFd, mov64Imm, mov64Reg, st } from "../../compiler/isa/index.js";
import { Epoll, MapType, Poll, ProgType, Prot, SysError, openSys, type Mapping } from "../../runtime/sys/index.js";
import { needsKernel, readU32, readU64, withFds } from "./helpers.js";

const sys = openSys();

/** bpf_ringbuf_output(map, &(u64)0x2a, 8, 0); return 0. */
function outputProgram(mapFd: number): Uint8Array {
  return encode([
    st(Size.DW, Reg.R10, -8, 0x2a),
    ...ldMapFd(Reg.R1, mapFd),
    mov64Reg(Reg.R2, Reg.R10),
    alu64Imm(AluOp.ADD, Reg.R2, -8),
    mov64Imm(Reg.R3, 8),
    mov64Imm(Reg.R4, 0),
    call(Helper.ringbuf_output),
    mov64Imm(Reg.R0, 0),
    exit(),
  ]);
}

test("ringbuf: consumer and producer pages map; a record written by a program is readable", needsKernel, async () => {
  const maps: Mapping[] = [];
  try {
    await withFds(sys, async (fds) => {
      const page = sys.pageSize();
      const size = page * 4;
      const rb = fds.add(sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, name: "events" }));
      const consumer = sys.mmap(rb, page, Prot.READ | Prot.WRITE, 0);
      maps.push(consumer);
      // The data area is mapped twice in a row so that records wrapping the end read contiguously.
      const producer = sys.mmap(rb, page + 2 * size, Prot.READ, page);
      maps.push(producer);
      assert.equal(producer.bytes.length, page + 2 * size);
      assert.equal(readU64(consumer.bytes), 0n);
      assert.equal(readU64(producer.bytes), 0n);
      assert.deepEqual(sys.poll([{ fd: rb, events: Poll.IN }], 0), [0]);

      const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: outputProgram(rb) });
      fds.add(fd);
      sys.progTestRun(fd, { dataIn: new Uint8Array(64) });

      // One record: 8-byte header (length, page offset) then 8 bytes of data.
      assert.equal(readU64(producer.bytes), 16n);
      assert.equal(readU32(producer.bytes, page) & 0x3fffffff, 8);
      assert.equal(readU64(producer.bytes, page + 8), 0x2an);

      // Readable now, through poll (sync and on a worker thread) and epoll.
      assert.deepEqual(sys.poll([{ fd: rb }], 0), [Poll.IN]);
      assert.deepEqual(await sys.pollAsync([{ fd: rb }], 1000), [Poll.IN]);
      const ep = fds.add(sys.epollCreate());
      sys.epollCtl(ep, Epoll.CTL_ADD, rb, Epoll.IN, 0x1234n);
      assert.deepEqual(sys.epollWait(ep, 4, 0), [{ events: Epoll.IN, data: 0x1234n }]);
      assert.deepEqual(await sys.epollWaitAsync(ep, 4, 1000), [{ events: Epoll.IN, data: 0x1234n }]);

      // Consuming: advance consumer_pos through the writable page; nothing is pending afterwards.
      new DataView(consumer.bytes.buffer, consumer.bytes.byteOffset).setBigUint64(0, 16n, true);
      assert.equal(readU64(consumer.bytes), 16n);
      assert.deepEqual(sys.poll([{ fd: rb }], 0), [0]);
      assert.deepEqual(sys.epollWait(ep, 4, 0), []);
    });
  } finally {
    for (const m of maps) sys.munmap(m);
  }
});

test("ringbuf: the producer page cannot be mapped writable", needsKernel, () =>
  withFds(sys, (fds) => {
    const page = sys.pageSize();
    const rb = fds.add(sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: page }));
    assert.throws(() => sys.mmap(rb, page, Prot.READ | Prot.WRITE, page), (e: unknown) => e instanceof SysError && e.command === "mmap" && e.code === "EPERM");
  }),
);

test("mmap refuses a length no view can hold (over 4 GiB) with E2BIG instead of aborting the process", needsKernel, () =>
  withFds(sys, (fds) => {
    const page = sys.pageSize();
    const rb = fds.add(sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: page }));
    assert.throws(() => sys.mmap(rb, 2 ** 32 + page, Prot.READ, page), (e: unknown) => e instanceof SysError && e.command === "mmap" && e.code === "E2BIG");
  }),
);

test("pollAsync waits on a worker thread: the event loop produces the record it wakes up for", needsKernel, () =>
  withFds(sys, async (fds) => {
    const rb = fds.add(sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: sys.pageSize() }));
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: outputProgram(rb) });
    fds.add(fd);
    // The long timeout is only a safety net: the wait ends when the record below is written.
    const waiting = sys.pollAsync([{ fd: rb }], 30_000);
    await new Promise<void>((resolve) => setImmediate(resolve));
    sys.progTestRun(fd, { dataIn: new Uint8Array(64) });
    assert.deepEqual(await waiting, [Poll.IN]);
  }),
);

test("poll reports POLLNVAL for a closed fd, close reports EBADF", needsKernel, () => {
  const fd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
  sys.close(fd);
  assert.deepEqual(sys.poll([{ fd }], 0), [Poll.NVAL]);
  assert.throws(() => sys.close(fd), (e: unknown) => e instanceof SysError && e.code === "EBADF" && e.command === "close");
  assert.equal(sys.getpid(), process.pid);
});
