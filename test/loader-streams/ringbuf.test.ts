// Ring buffer consumer against the kernel: records written by socket filters (bpf_ringbuf_output, reserve +
// submit, reserve + discard) under BPF_PROG_TEST_RUN come out in order with their contents, across many
// wrap-arounds of a 4096-byte ring, with discarded records skipped, drops when full, async iteration that
// keeps the event loop running, and no fds or mappings left after close.

import { test } from "node:test";
import assert from "node:assert/strict";
import { RingBuffer, codecFor, objectBtf } from "../../runtime/loader/index.js";
import { BtfKind } from "../../compiler/btf/index.js";
import type { LoadedObject } from "../../runtime/loader/index.js";
import { expectedEvent, mappingCount, needsKernel, openFdCount, run, seqOf, sys, withStreams } from "./support.js";

function eventCodec(obj: LoadedObject) {
  const btf = objectBtf(obj.spec)!;
  return codecFor(btf, btf.find("event", BtfKind.STRUCT)!.id);
}

function openRing(obj: LoadedObject): RingBuffer {
  return RingBuffer.open(sys, obj.map("rb").fd);
}

test("bpf_ringbuf_output records come out in order, decoded by the object's BTF", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      assert.equal(rb.size, 4096);
      run(obj, "rb_output", 10);
      const codec = eventCodec(obj);
      const got: Uint8Array[] = [];
      assert.equal(
        rb.drain((d) => void got.push(d.slice())),
        10,
      );
      assert.equal(rb.available, 0);
      got.forEach((raw, i) => {
        assert.equal(raw.length, 64);
        assert.deepEqual(codec.decode(raw), expectedEvent(i));
        assert.deepEqual(codec.encode(codec.decode(raw)), raw, "encode(decode(x)) is x");
      });
      assert.equal(rb.drain(() => assert.fail("no more records")), 0);
      // drainRaw: the same records read in place from the mapped ring, no view per record.
      run(obj, "rb_output", 3);
      const inPlace: unknown[] = [];
      assert.equal(
        rb.drainRaw((ring, offset, size) => {
          assert.equal(size, 64);
          inPlace.push(codec.decode(ring, offset));
        }),
        3,
      );
      assert.deepEqual(inPlace, [10, 11, 12].map(expectedEvent));
    } finally {
      rb.close();
    }
  }));

test("a drain ends at what was produced before it, even when each record handled produces the next", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      run(obj, "rb_output", 3);
      let handled = 0;
      // As a probe on write(2) does when the consumer prints each event.
      assert.equal(
        rb.drain(() => {
          // Bounded, so that a drain that followed its own records would end (and fail the count) rather than spin.
          if (++handled < 100) run(obj, "rb_output", 1);
        }),
        3,
      );
      assert.equal(handled, 3);
      assert.equal(rb.drain(() => {}), 3, "the records the handler produced wait for the next drain");
    } finally {
      rb.close();
    }
  }));

test("the consumer follows the producer over many wrap-arounds (records straddle the ring's end)", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      const codec = eventCodec(obj);
      const seqs: number[] = [];
      // 37 records of 72 bytes per round: 2664 bytes, so every round crosses the 4096-byte boundary at a new offset.
      for (let round = 0; round < 20; round++) {
        run(obj, "rb_output", 37);
        rb.drain((d) => {
          const e = codec.decode(d) as ReturnType<typeof expectedEvent>;
          assert.deepEqual(e, expectedEvent(e.seq));
          seqs.push(e.seq);
        });
      }
      assert.deepEqual(seqs, Array.from({ length: 740 }, (_, i) => i));
      // 740 records of 72 bytes went through a 4096-byte ring: 13 laps, and records 56, 113, ... straddle its end.
      assert.ok(Array.from({ length: 740 }, (_, k) => ((k * 72) % 4096) + 72 > 4096).filter(Boolean).length >= 10);
    } finally {
      rb.close();
    }
  }));

test("reserved records that were discarded are skipped, submitted ones kept in order", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      const seqs: number[] = [];
      for (let round = 0; round < 5; round++) {
        run(obj, "rb_reserve", 30);
        rb.drain((d) => void seqs.push(seqOf(d)));
      }
      assert.deepEqual(
        seqs,
        Array.from({ length: 150 }, (_, i) => i).filter((i) => i % 3 !== 2),
      );
    } finally {
      rb.close();
    }
  }));

test("a full ring drops new records; what was kept is contiguous and the space comes back after drain", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      run(obj, "rb_output", 100); // 100 * 72 bytes > 4096: the kernel keeps the first 56
      const first = rb.read().map(seqOf);
      assert.equal(first.length, Math.floor(4096 / 72));
      assert.deepEqual(first, Array.from({ length: first.length }, (_, i) => i));
      run(obj, "rb_output", 3);
      assert.deepEqual(rb.read().map(seqOf), [100, 101, 102]);
    } finally {
      rb.close();
    }
  }));

test("drain stops when the handler says so, and a throwing handler still consumes its record", needsKernel, () =>
  withStreams((obj) => {
    const rb = openRing(obj);
    try {
      run(obj, "rb_output", 6);
      const seen: number[] = [];
      assert.equal(
        rb.drain((d) => {
          seen.push(seqOf(d));
          return seen.length < 2;
        }),
        2,
      );
      assert.throws(
        () =>
          rb.drain(() => {
            throw new Error("handler failed");
          }),
        /handler failed/,
      );
      assert.equal(rb.drain((d) => void seen.push(seqOf(d)), 2), 2);
      assert.deepEqual(seen, [0, 1, 3, 4]);
      assert.deepEqual(rb.read().map(seqOf), [5]);
    } finally {
      rb.close();
    }
  }));

test("async iteration waits on the fd without blocking the event loop and sees records as they come", needsKernel, () =>
  withStreams(async (obj) => {
    const rb = openRing(obj);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      // Nothing produced: a wait of 200 ms lets timers run meanwhile and reports no data.
      assert.equal(await rb.wait(200), false);
      // A blocking wait would let no timer run at all; a loaded machine may run few of them.
      assert.ok(ticks >= 1, `the event loop ran ${ticks} timer ticks during the wait`);
      const bursts = [4, 7, 9];
      let b = 0;
      const produce = () => {
        run(obj, "rb_output", bursts[b]!);
        if (++b < bursts.length) setTimeout(produce, 20);
      };
      setTimeout(produce, 20);
      const seqs: number[] = [];
      for await (const r of rb) {
        seqs.push(seqOf(r));
        if (seqs.length === 20) break;
      }
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i));
    } finally {
      clearInterval(ticker);
      await rb.closeAndWait();
    }
  }));

test("close() ends an iterator that is waiting and releases its mappings; open/close leaks nothing", needsKernel, () =>
  withStreams(async (obj) => {
    const first = openRing(obj);
    const done = (async () => {
      const got: Uint8Array[] = [];
      for await (const r of first) got.push(r);
      return got;
    })();
    await new Promise((r) => setTimeout(r, 30));
    first.close();
    assert.deepEqual(await done, []);
    await first.closeAndWait();
    assert.equal(first.drain(() => assert.fail()), 0);
    assert.throws(() => RingBuffer.open(sys, obj.map("counts").fd), /not a ring buffer/);

    const fds = openFdCount();
    const maps = mappingCount();
    for (let i = 0; i < 50; i++) {
      const rb = openRing(obj);
      assert.equal(mappingCount(), maps + 3, "consumer page, producer page and data mapped");
      run(obj, "rb_output", 1);
      assert.equal(rb.read().length, 1);
      rb.close();
      rb.close(); // idempotent
    }
    assert.equal(openFdCount(), fds, "fds left open");
    assert.equal(mappingCount(), maps, "mappings left in /proc/self/maps");
  }));
