// Perf event array reader against the kernel: bpf_perf_event_output(BPF_F_CURRENT_CPU) from a socket filter
// under BPF_PROG_TEST_RUN lands in the running CPU's ring; samples come out in order with the kernel's
// padding, records that wrap around a one-page ring are reassembled, PERF_RECORD_LOST reports what a full
// ring dropped, async iteration sees new samples, and close leaves no fds, mappings or map slots.

import { test } from "node:test";
import assert from "node:assert/strict";
import { BtfKind } from "../../compiler/btf/index.js";
import { PerfBuffer, codecFor, objectBtf, type LoadedObject, type PerfEvent } from "../../runtime/loader/index.js";
import { expectedEvent, mappingCount, needsKernel, openFdCount, run, seqOf, sys, withStreams, type Event } from "./support.js";

const samples = (events: PerfEvent[]) => events.filter((e) => e.kind === "sample") as Extract<PerfEvent, { kind: "sample" }>[];

function open(obj: LoadedObject, pages?: number): PerfBuffer {
  return PerfBuffer.open(sys, obj.map("events").fd, { pages });
}

test("samples from bpf_perf_event_output come out in order with their contents", needsKernel, () =>
  withStreams(async (obj) => {
    const pb = open(obj);
    try {
      assert.equal(pb.cpus.length, sys.possibleCpus());
      run(obj, "perf_output", 20);
      const btf = objectBtf(obj.spec)!;
      const codec = codecFor(btf, btf.find("event", BtfKind.STRUCT)!.id);
      const got = samples(pb.read());
      assert.equal(got.length, 20);
      for (const s of got) {
        // The kernel pads raw data so that its u32 size field plus the data is a multiple of 8: 64 -> 68.
        assert.equal(s.data.length, 68);
        assert.ok(pb.cpus.includes(s.cpu));
        assert.deepEqual(codec.decode(s.data), expectedEvent(seqOf(s.data)));
      }
      // In order on each CPU (a test run that yields the CPU between repetitions may go on on another).
      for (const cpu of new Set(got.map((s) => s.cpu))) {
        const seqs = got.filter((s) => s.cpu === cpu).map((s) => seqOf(s.data));
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      }
      assert.deepEqual(got.map((s) => seqOf(s.data)).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
      assert.equal(pb.available, 0);
    } finally {
      await pb.close();
    }
  }));

test("records that wrap around the end of a one-page ring are reassembled", needsKernel, () =>
  withStreams(async (obj) => {
    const pb = open(obj, 1);
    try {
      const btf = objectBtf(obj.spec)!;
      const codec = codecFor(btf, btf.find("event", BtfKind.STRUCT)!.id);
      const seqs: number[] = [];
      const byCpu = new Map<number, number[]>();
      // 80-byte records (8 header + 4 size + 68 data) in a 4096-byte ring: 4096 % 80 = 16, so records straddle the end.
      for (let round = 0; round < 12; round++) {
        run(obj, "perf_output", 30);
        pb.drain({
          sample: (d, cpu) => {
            const e = codec.decode(d) as Event;
            assert.deepEqual(e, expectedEvent(e.seq));
            seqs.push(e.seq);
            byCpu.set(cpu, [...(byCpu.get(cpu) ?? []), e.seq]);
          },
          lost: () => assert.fail("nothing may be lost"),
        });
      }
      // A test run that yields the CPU between repetitions (a loaded machine) may go on on another CPU, whose ring the
      // drain may read first: every record once, each CPU's in order.
      assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 360 }, (_, i) => i));
      for (const [cpu, list] of byCpu) assert.deepEqual(list, [...list].sort((a, b) => a - b), `CPU ${cpu}`);
    } finally {
      await pb.close();
    }
  }));

test("a full ring reports the dropped samples as PERF_RECORD_LOST", needsKernel, async () => {
  // One test run of 100 repetitions fills one CPU's ring: 51 samples fit, 49 are lost. On a loaded machine the run can
  // yield its CPU between repetitions and go on on another, whose ring then takes the rest, and the next run can be on
  // the other CPU: tried again, in a fresh object, until both stayed on one CPU.
  for (let attempt = 1; ; attempt++) {
    const onOneCpu = await withStreams(async (obj) => {
      const pb = open(obj, 1);
      try {
        run(obj, "perf_output", 100);
        const first = samples(pb.read());
        if (new Set(first.map((s) => s.cpu)).size > 1 && attempt < 10) return false;
        const kept = first.map((s) => seqOf(s.data));
        assert.ok(kept.length > 0 && kept.length < 100, `kept ${kept.length}`);
        assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => i));
        run(obj, "perf_output", 1); // the loss is reported before the next sample that fits, in the same CPU's ring
        const next = pb.read();
        if (samples(next)[0]?.cpu !== first[0]!.cpu && attempt < 10) return false;
        const lost = next.filter((e) => e.kind === "lost").reduce((n, e) => n + (e.kind === "lost" ? e.count : 0), 0);
        assert.equal(lost, 100 - kept.length);
        assert.equal(pb.lostTotal, lost);
        assert.deepEqual(samples(next).map((s) => seqOf(s.data)), [100]);
        assert.equal(next[0]!.kind, "lost");
        return true;
      } finally {
        await pb.close();
      }
    });
    if (onOneCpu) return;
  }
});

test("samples lost while the ring stayed full to the end, which no PERF_RECORD_LOST can say, are reported from the events' lost counts", needsKernel, () =>
  withStreams(async (obj) => {
    const pb = open(obj, 1);
    try {
      if (!pb.countsLost) return; // a kernel before 6.0 (no PERF_FORMAT_LOST): the test below cannot pass there
      // 300 samples into one-page rings: each CPU's ring fills and stays full, and nothing more is sent.
      run(obj, "perf_output", 300);
      const events = pb.read();
      const lostRecords = events.reduce((n, e) => n + (e.kind === "lost" ? e.count : 0), 0);
      const kept = samples(events).length;
      assert.ok(kept < 300, `kept ${kept}`);
      const late: PerfEvent[] = [];
      pb.drainLost({ sample: () => assert.fail("no samples"), lost: (count, cpu) => void late.push({ kind: "lost", count, cpu }) });
      const lateLost = late.reduce((n, e) => n + (e.kind === "lost" ? e.count : 0), 0);
      assert.equal(kept + lostRecords + lateLost, 300, `${kept} kept, ${lostRecords} in lost records, ${lateLost} counted`);
      assert.equal(pb.lostTotal, lostRecords + lateLost);
      // Reported once: a later record of the same losses adds nothing, and a second call reports nothing.
      pb.drainLost({ sample: () => assert.fail("no samples"), lost: () => assert.fail("reported twice") });
      run(obj, "perf_output", 1);
      const after = pb.read();
      assert.deepEqual(after.filter((e) => e.kind === "lost"), []);
      assert.equal(samples(after).length, 1);
    } finally {
      await pb.close();
    }
  }));

test("async iteration wakes on new samples; close ends it and releases everything", needsKernel, () =>
  withStreams(async (obj) => {
    const fds = openFdCount();
    const maps = mappingCount();
    const pb = open(obj);
    const seqs: number[] = [];
    try {
      setTimeout(() => run(obj, "perf_output", 5), 30);
      setTimeout(() => run(obj, "perf_output", 5), 60);
      for await (const e of pb) {
        if (e.kind === "sample") seqs.push(seqOf(e.data));
        if (seqs.length === 10) break;
      }
      // Every sample, in order per CPU: a test run may move to the other CPU between repeats, and the rings are
      // read one CPU after the other.
      assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
      const waiting = (async () => {
        for await (const e of pb) assert.fail(`unexpected ${e.kind}`);
      })();
      await new Promise((r) => setTimeout(r, 20));
      await pb.close();
      await waiting;
    } finally {
      await pb.close(); // idempotent
    }
    assert.equal(openFdCount(), fds, "fds left open");
    assert.equal(mappingCount(), maps, "mappings left");
    for (let i = 0; i < 20; i++) {
      const again = open(obj, 1);
      assert.equal(mappingCount(), maps + again.cpus.length, "one ring mapped per CPU");
      await again.close();
    }
    assert.equal(openFdCount(), fds, "fds left open after 20 open/close rounds");
    assert.equal(mappingCount(), maps, "mappings left after 20 open/close rounds");
  }));
