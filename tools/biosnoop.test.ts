// Unit tests for tools/biosnoop.ts: block requests from issue to completion in bcc's columns, the request a
// struct request of the kernel's, its disk named through rq.q.disk.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const columns = (line: string) => line.trim().split(/\s+/);

test("biosnoop: each completed request prints its issuer, disk name, direction, sector, bytes and latency; requests are told apart by address", async () => {
  const sim = await simulate("tools/biosnoop.ts");
  const { kernel } = sim;
  const vda = kernel.alloc("request_queue", { disk: kernel.alloc("gendisk", { disk_name: "vda" }) });
  const nvme = kernel.alloc("request_queue", { disk: kernel.alloc("gendisk", { disk_name: "nvme0n1" }) });
  const write = kernel.alloc("request", { q: vda, cmd_flags: 1 | 0x800, __sector: 125571200n, __data_len: 65536 }); // REQ_OP_WRITE | REQ_SYNC
  const read = kernel.alloc("request", { q: nvme, cmd_flags: 0, __sector: 2048n, __data_len: 4096 });
  sim.begin();
  kernel.advance(1_500_000);
  sim.rawTracepoint("block_rq_issue", [write], { pid: 4242, comm: "dd" });
  kernel.advance(250_000);
  sim.rawTracepoint("block_rq_issue", [read], { pid: 44, comm: "kworker/1:1H" });
  kernel.advance(1_230_000);
  sim.rawTracepoint("block_rq_complete", [read, 0, 4096]); // 1.23 ms, in whatever task the interrupt hit
  kernel.advance(20_000);
  sim.rawTracepoint("block_rq_complete", [write, 0, 65536]); // 1.50 ms
  sim.rawTracepoint("block_rq_complete", [read, 0, 4096]); // seen complete already: nothing
  const lines = sim.output().trimEnd().split("\n").map(columns);
  assert.deepEqual(lines, [
    ["TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)"],
    ["0.002980", "kworker/1:1H", "44", "nvme0n1", "R", "2048", "4096", "1.23"],
    ["0.003000", "dd", "4242", "vda", "W", "125571200", "65536", "1.50"],
  ]);
  assert.equal(sim.map("issued").toMap().size, 0);
});

test("biosnoop: --set disk=NAME keeps that disk's requests alone", async () => {
  const sim = await simulate("tools/biosnoop.ts", { globals: { disk: "nvme0n1" } });
  const { kernel } = sim;
  const queue = (name: string) => kernel.alloc("request_queue", { disk: kernel.alloc("gendisk", { disk_name: name }) });
  const onVda = kernel.alloc("request", { q: queue("vda"), __sector: 8n });
  const onNvme = kernel.alloc("request", { q: queue("nvme0n1"), __sector: 16n });
  const onNvme1 = kernel.alloc("request", { q: queue("nvme0n1p1"), __sector: 24n });
  for (const rq of [onVda, onNvme, onNvme1]) sim.rawTracepoint("block_rq_issue", [rq], { pid: 7, comm: "fio" });
  kernel.advance(100_000);
  for (const rq of [onVda, onNvme, onNvme1]) sim.rawTracepoint("block_rq_complete", [rq, 0, 4096]);
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns).map((c) => [c[3], c[5]]), [["nvme0n1", "16"]]);
});
