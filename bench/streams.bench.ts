// Output streams beside the kernel: events/s that the ring buffer consumer (and the perf buffer reader) take
// in after a burst, next to the rate at which the kernel produced that burst in the same run.
// Takes nothing; gives BenchTable[] for bench/run.ts (`npm run bench -- streams`).
//
// The producer is a socket filter that writes one 16-byte record (bpf_ktime_get_ns and a constant) per run;
// BPF_PROG_TEST_RUN with `repeat` N fills the ring in one call and reports the kernel's average time per run
// (test-run loop included), which gives the production rate. Consumption is then timed over the same N
// records: the view callback (no copy), a handler reading a field, decoding each record into a JS object by its
// BTF type (what `tsbpf run` and EventReader do), copies (`read`) and the async iterator.

import { encode, call, exit, ldMapFd, mov32Imm, mov64Imm, mov64Reg, alu64Imm, stx, st, AluOp, Size, Helper } from "../compiler/isa/index.js";
import { MapType, missingBpf, missingRoot, openSys, ProgType, type Sys } from "../runtime/sys/index.js";
import { PerfBuffer, RingBuffer, codecFor } from "../runtime/loader/index.js";
import { BtfBuilder, BtfKind, parseBtf } from "../compiler/btf/index.js";
import type { BenchTable } from "./run.js";

const BURST = 1_000_000;
const PERF_BURST = 200_000;
const ROUNDS = 3;
const PACKET = new Uint8Array(64);

/** r1 = ctx; writes {ktime, 0x5eed} on the stack and hands it to `output`. */
function producer(mapFd: number, perf: boolean) {
  return encode([
    mov64Reg(6, 1),
    call(Helper.ktime_get_ns),
    stx(Size.DW, 10, 0, -16),
    st(Size.DW, 10, -8, 0x5eed),
    ...(perf
      ? [mov64Reg(1, 6), ...ldMapFd(2, mapFd), mov32Imm(3, -1) /* BPF_F_CURRENT_CPU, zero-extended */, mov64Reg(4, 10), alu64Imm(AluOp.ADD, 4, -16), mov64Imm(5, 16), call(Helper.perf_event_output)]
      : [...ldMapFd(1, mapFd), mov64Reg(2, 10), alu64Imm(AluOp.ADD, 2, -16), mov64Imm(3, 16), mov64Imm(4, 0), call(Helper.ringbuf_output)]),
    mov64Imm(0, 0),
    exit(),
  ]);
}

/** Runs the producer `n` times in one test run; gives the kernel's events/s. */
function burst(sys: Sys, progFd: number, n: number): number {
  const { duration } = sys.progTestRun(progFd, { dataIn: PACKET, dataSizeOut: 0, repeat: n });
  return 1e9 / duration;
}

function rate(n: number, t0: number): number {
  return n / ((performance.now() - t0) / 1000);
}

/** The producer's record type, `struct record { u64 time; u64 seed; }`, as a codec. */
function recordCodec() {
  const b = new BtfBuilder();
  const u64 = b.add({ kind: BtfKind.INT, name: "unsigned long long", size: 8, encoding: 0, offset: 0, bits: 64 });
  const record = b.add({ kind: BtfKind.STRUCT, name: "record", size: 16, members: [{ name: "time", type: u64, bitOffset: 0, bitfieldSize: 0 }, { name: "seed", type: u64, bitOffset: 64, bitfieldSize: 0 }] });
  return codecFor(parseBtf(b.toBytes()), record);
}

async function ringRows(sys: Sys): Promise<(string | number)[][]> {
  // 24 bytes per record (8-byte header + 16): 1 M records need 24 MB; the ring is a power of two.
  const mapFd = sys.mapCreate({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 32 << 20, name: "bench_rb" });
  let progFd = -1;
  let rb: RingBuffer | undefined;
  try {
    progFd = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: producer(mapFd, false) }).fd;
    rb = RingBuffer.open(sys, mapFd);
    const best = { kernel: 0, raw: 0, view: 0, field: 0, decoded: 0, copy: 0, iter: 0 };
    const codec = recordCodec();
    let sum = 0;
    for (let round = 0; round < ROUNDS; round++) {
      best.kernel = Math.max(best.kernel, burst(sys, progFd, BURST));
      let t0 = performance.now();
      let n = rb.drainRaw((bytes, off) => {
        sum += bytes[off]!;
      });
      if (n !== BURST) throw new Error(`drained ${n} of ${BURST} records`);
      best.raw = Math.max(best.raw, rate(n, t0));

      burst(sys, progFd, BURST);
      t0 = performance.now();
      n = rb.drain(() => {});
      if (n !== BURST) throw new Error(`drained ${n} of ${BURST} records`);
      best.view = Math.max(best.view, rate(n, t0));

      burst(sys, progFd, BURST);
      t0 = performance.now();
      n = rb.drain((d) => {
        sum += new DataView(d.buffer, d.byteOffset, d.length).getUint32(8, true);
      });
      best.field = Math.max(best.field, rate(n, t0));

      burst(sys, progFd, BURST);
      t0 = performance.now();
      n = rb.drainRaw((bytes, off) => {
        sum += (codec.decode(bytes, off) as { seed: number }).seed & 1;
      });
      best.decoded = Math.max(best.decoded, rate(n, t0));

      burst(sys, progFd, BURST);
      t0 = performance.now();
      n = 0;
      for (let got = rb.read(65536); got.length > 0; got = rb.read(65536)) n += got.length;
      best.copy = Math.max(best.copy, rate(n, t0));

      burst(sys, progFd, BURST);
      t0 = performance.now();
      n = 0;
      for await (const _ of rb) if (++n === BURST) break;
      best.iter = Math.max(best.iter, rate(n, t0));
    }
    if (sum === 0) throw new Error("no records read");
    const m = (x: number) => (x / 1e6).toFixed(2);
    const r = (x: number) => (x / best.kernel).toFixed(2);
    return [
      ["kernel: bpf_ringbuf_output (test run)", m(best.kernel), "1.00"],
      ["drainRaw (ring, offset, size), no allocation", m(best.raw), r(best.raw)],
      ["drain, view callback", m(best.view), r(best.view)],
      ["drain, handler reads a u32 through a DataView", m(best.field), r(best.field)],
      ["drainRaw, each record decoded to an object by its BTF type", m(best.decoded), r(best.decoded)],
      ["read(), copies", m(best.copy), r(best.copy)],
      ["for await (async iterator, copies)", m(best.iter), r(best.iter)],
    ];
  } finally {
    await rb?.closeAndWait();
    if (progFd >= 0) sys.close(progFd);
    sys.close(mapFd);
  }
}

async function perfRows(sys: Sys): Promise<(string | number)[][]> {
  const mapFd = sys.mapCreate({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: sys.possibleCpus(), name: "bench_perf" });
  let progFd = -1;
  let pb: PerfBuffer | undefined;
  try {
    progFd = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: producer(mapFd, true) }).fd;
    // 32 bytes per sample (8 header + 4 size + 20 padded data): 200 k samples need 6.4 MB per CPU.
    pb = PerfBuffer.open(sys, mapFd, { pages: 2048 });
    let kernel = 0;
    let view = 0;
    for (let round = 0; round < ROUNDS; round++) {
      kernel = Math.max(kernel, burst(sys, progFd, PERF_BURST));
      const t0 = performance.now();
      let lost = 0;
      const n = pb.drain({ sample: () => {}, lost: (c) => void (lost += c) });
      if (n !== PERF_BURST || lost) throw new Error(`read ${n} of ${PERF_BURST} samples, ${lost} lost`);
      view = Math.max(view, rate(n, t0));
    }
    return [
      ["kernel: bpf_perf_event_output (test run)", (kernel / 1e6).toFixed(2), "1.00"],
      ["perf buffer drain, view callback", (view / 1e6).toFixed(2), (view / kernel).toFixed(2)],
    ];
  } finally {
    await pb?.close();
    if (progFd >= 0) sys.close(progFd);
    sys.close(mapFd);
  }
}

export default async function (): Promise<BenchTable[]> {
  const reason = missingRoot() ?? missingBpf();
  if (reason !== undefined) return [{ title: "Output streams: M events/s", columns: ["side"], rows: [], notes: [`skipped: ${reason}`] }];
  const sys = openSys();
  const rows = [...(await ringRows(sys)), ...(await perfRows(sys))];
  return [
    {
      title: "Output streams: M events/s, consumer beside the kernel's production",
      columns: ["side", "M events/s", "x kernel"],
      rows,
      notes: [
        `Ring buffer: bursts of ${BURST.toLocaleString("en")} 16-byte records into a 32 MiB ring, then consumed; perf buffer: ${PERF_BURST.toLocaleString("en")} samples into one CPU's 8 MiB ring. Best of ${ROUNDS} rounds.`,
        "Kernel: BPF_PROG_TEST_RUN with `repeat`, 1 / average run time (test-run loop included). The consumer runs after the burst, on the same thread.",
      ],
    },
  ];
}
