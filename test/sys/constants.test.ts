// Tests of the ABI constants: kernel numbers for well-known names, name lookups and errno names.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AttachType,
  BPF_ANY,
  BPF_EXIST,
  BPF_F_ANY_ALIGNMENT,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_F_STRICT_ALIGNMENT,
  BPF_NOEXIST,
  Cmd,
  MapType,
  ProgType,
  attachTypeByName,
  countCpus,
  errnoName,
  mapTypeByName,
  mapTypeName,
  progTypeByName,
  progTypeName,
} from "../../runtime/sys/index.js";

test("constants match the kernel's numbers", () => {
  assert.equal(ProgType.SOCKET_FILTER, 1);
  assert.equal(ProgType.KPROBE, 2);
  assert.equal(ProgType.TRACEPOINT, 5);
  assert.equal(ProgType.XDP, 6);
  assert.equal(ProgType.TRACING, 26);
  assert.equal(MapType.HASH, 1);
  assert.equal(MapType.ARRAY, 2);
  assert.equal(MapType.RINGBUF, 27);
  assert.equal(Cmd.PROG_LOAD, 5);
  assert.equal(Cmd.PROG_TEST_RUN, 10);
  assert.equal(Cmd.LINK_CREATE, 28);
  assert.equal(AttachType.TRACE_FENTRY, 24);
  assert.equal(AttachType.PERF_EVENT, 41);
  assert.deepEqual([BPF_ANY, BPF_NOEXIST, BPF_EXIST], [0, 1, 2]);
  assert.deepEqual([BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_STRICT_ALIGNMENT, BPF_F_ANY_ALIGNMENT], [1, 128, 1, 2]);
});

test("kernel names map to numbers and back", () => {
  assert.equal(progTypeByName("kprobe"), 2);
  assert.equal(progTypeByName("socket_filter"), 1);
  assert.equal(progTypeByName("tracepoint"), 5);
  assert.equal(progTypeByName("xdp"), 6);
  assert.equal(progTypeByName("SCHED_CLS"), 3);
  assert.equal(progTypeByName("nope"), undefined);
  assert.equal(mapTypeByName("percpu_array"), 6);
  assert.equal(attachTypeByName("trace_fentry"), 24);
  assert.equal(progTypeName(6), "xdp");
  assert.equal(mapTypeName(1), "hash");
  assert.equal(progTypeName(9999), undefined);
});

test("errno names and CPU lists", () => {
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(13), "EACCES");
  assert.equal(errnoName(7), "E2BIG");
  assert.equal(errnoName(524), "ENOTSUPP");
  assert.equal(errnoName(4242), "E4242");
  assert.equal(countCpus("0-3\n"), 4);
  assert.equal(countCpus("0,2-3,7"), 4);
  assert.equal(countCpus("0"), 1);
});
