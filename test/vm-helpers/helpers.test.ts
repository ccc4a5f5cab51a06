// Helpers called through a fake HelperContext: maps, probe reads, task, time, ring buffer, perf, stacks, env.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, u32, u64, getU64, cstr, text } from "./util.js";
import { Helper } from "../../compiler/isa/helpers.js";
import { Errno, BPF_NOEXIST } from "../../runtime/vm/maps/index.js";
import { VmFault } from "../../runtime/vm/memory.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";

describe("map helpers", () => {
  test("lookup / update / delete read keys and values from VM memory", () => {
    const { maps, callS, call, put, kernel } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 1 });
    const k = put(0, u32(9));
    const v = put(8, u64(77));
    assert.equal(call(Helper.map_lookup_elem, m.address, k), 0n);
    assert.equal(callS(Helper.map_update_elem, m.address, k, v, 0), 0);
    assert.equal(callS(Helper.map_update_elem, m.address, k, v, BPF_NOEXIST), -Errno.EEXIST);
    const other = put(16, u32(10));
    assert.equal(callS(Helper.map_update_elem, m.address, other, v, 0), -Errno.E2BIG);
    const addr = call(Helper.map_lookup_elem, m.address, k);
    assert.equal(getU64(kernel.memory.read(addr, 8)), 77n);
    assert.equal(callS(Helper.map_delete_elem, m.address, k), 0);
    assert.equal(callS(Helper.map_delete_elem, m.address, k), -Errno.ENOENT);
  });

  test("an unreadable key or a non-map pointer is a fault", () => {
    const { maps, call, stack } = setup();
    const m = maps.hash({ keySize: 4, valueSize: 8, maxEntries: 1 });
    assert.throws(() => call(Helper.map_lookup_elem, m.address, 0x1234n), VmFault);
    assert.throws(() => call(Helper.map_lookup_elem, m.address, stack.address(510)), /out-of-bounds/);
    assert.throws(() => call(Helper.map_lookup_elem, stack.address(0), stack.address(0)), /is not a map/);
  });

  test("array and per-CPU array through helpers", () => {
    const { maps, call, callS, put, kernel } = setup({ numCpus: 2 });
    const a = maps.array({ valueSize: 4, maxEntries: 2 });
    assert.equal(call(Helper.map_lookup_elem, a.address, put(0, u32(2))), 0n);
    assert.equal(callS(Helper.map_update_elem, a.address, put(0, u32(2)), put(8, u32(1)), 0), -Errno.E2BIG);
    assert.equal(callS(Helper.map_delete_elem, a.address, put(0, u32(0))), -Errno.EINVAL);
    const pc = maps.percpuArray({ valueSize: 8, maxEntries: 1 });
    kernel.cpu = 1;
    assert.equal(callS(Helper.map_update_elem, pc.address, put(0, u32(0)), put(8, u64(5)), 0), 0);
    assert.deepEqual(pc.lookup(0)!.map((x) => getU64(x)), [0n, 5n]);
  });
});

describe("probe reads", () => {
  test("probe_read_kernel copies, and on a faulting address zeroes the destination and returns -EFAULT", () => {
    const { kernel, callS, stack } = setup();
    const src = kernel.kernelBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const dst = stack.address(0);
    assert.equal(callS(Helper.probe_read_kernel, dst, 8, src), 0);
    assert.deepEqual(stack.bytes.subarray(0, 8), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    kernel.markFaulting(src + 4n, 1);
    assert.equal(callS(Helper.probe_read_kernel, dst, 8, src), -Errno.EFAULT);
    assert.deepEqual(stack.bytes.subarray(0, 8), new Uint8Array(8));
    assert.equal(callS(Helper.probe_read_kernel, dst, 4, src), 0, "the bytes before the fault are fine");
    stack.bytes.fill(9, 0, 8);
    assert.equal(callS(Helper.probe_read_kernel, dst, 8, 0xffff888000000000n), -Errno.EFAULT, "unmapped");
    assert.deepEqual(stack.bytes.subarray(0, 8), new Uint8Array(8));
    assert.equal(callS(Helper.probe_read_kernel, dst, 8, src + 4n + 8n), -Errno.EFAULT, "past the end");
  });

  test("kernel vs user address spaces, and the legacy probe_read picks by address", () => {
    const { kernel, callS, stack } = setup();
    const user = kernel.userBytes(new Uint8Array([9, 9, 9, 9]));
    const kern = kernel.kernelBytes(new Uint8Array([7, 7, 7, 7]));
    const dst = stack.address(0);
    assert.equal(callS(Helper.probe_read_kernel, dst, 4, user), -Errno.ERANGE, "x86 refuses user addresses");
    assert.equal(callS(Helper.probe_read_user, dst, 4, kern), -Errno.EFAULT);
    assert.equal(callS(Helper.probe_read_user, dst, 4, user), 0);
    assert.deepEqual(stack.bytes.subarray(0, 4), new Uint8Array([9, 9, 9, 9]));
    assert.equal(callS(Helper.probe_read, dst, 4, kern), 0);
    assert.deepEqual(stack.bytes.subarray(0, 4), new Uint8Array([7, 7, 7, 7]));
    assert.equal(callS(Helper.probe_read, dst, 4, user), 0);
    assert.equal(callS(Helper.probe_read_kernel, dst, 0, kern), 0);
  });

  test("_str forms: length with NUL, truncation keeps size-1 and terminates, faults zero", () => {
    const { kernel, callS, stack } = setup();
    const s = kernel.kernelString("hello");
    const us = kernel.userString("world!");
    const dst = stack.address(0);
    stack.bytes.fill(0xaa, 0, 16);
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 16, s), 6);
    assert.deepEqual([...stack.bytes.subarray(0, 8)], [104, 101, 108, 108, 111, 0, 0xaa, 0xaa], "bytes after the NUL untouched");
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 4, s), 4);
    assert.equal(text(stack.bytes.subarray(0, 4)), "hel");
    assert.equal(callS(Helper.probe_read_user_str, dst, 16, us), 7);
    assert.equal(text(stack.bytes), "world!");
    assert.equal(callS(Helper.probe_read_str, dst, 16, us), 7);
    assert.equal(callS(Helper.probe_read_str, dst, 16, s), 6);
    assert.equal(callS(Helper.probe_read_user_str, dst, 16, s), -Errno.EFAULT);
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 16, us), -Errno.ERANGE);
    assert.deepEqual(stack.bytes.subarray(0, 16), new Uint8Array(16));
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 0, s), 0);
    kernel.markFaulting(s + 3n);
    stack.bytes.fill(1, 0, 16);
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 16, s), -Errno.EFAULT);
    assert.deepEqual(stack.bytes.subarray(0, 16), new Uint8Array(16));
    assert.equal(callS(Helper.probe_read_kernel_str, dst, 3, s), 3, "stops before the fault");
    const empty = kernel.userString("");
    assert.equal(callS(Helper.probe_read_user_str, dst, 8, empty), 1);
  });

  test("a bad destination is a VM fault", () => {
    const { kernel, call } = setup();
    const src = kernel.kernelBytes(8);
    assert.throws(() => call(Helper.probe_read_kernel, 0n, 8, src), VmFault);
  });

  test("a read whose source and destination overlap copies as memmove", () => {
    // The stack's addresses are kernel addresses, so a probe read can copy within it, either way.
    for (const [size, shift] of [[8, 4], [8, -4], [100, 10], [100, -10]] as const) {
      const { stack, callS, put } = setup();
      const pattern = Uint8Array.from({ length: 256 }, (_, i) => i);
      const src = put(128, pattern.subarray(0, size));
      assert.equal(callS(Helper.probe_read_kernel, src + BigInt(shift), size, src), 0);
      assert.deepEqual([...stack.bytes.subarray(128 + shift, 128 + shift + size)], [...pattern.subarray(0, size)], `${size} bytes moved by ${shift}`);
    }
  });
});

describe("task, CPU, time and randomness", () => {
  test("pid_tgid, uid_gid, comm, CPU", () => {
    const { kernel, call, callS, stack } = setup({ pid: 101, tgid: 100, uid: 1000, gid: 2000, comm: "curl", numCpus: 4, cpu: 3 });
    assert.equal(call(Helper.get_current_pid_tgid), (100n << 32n) | 101n);
    assert.equal(call(Helper.get_current_uid_gid), (2000n << 32n) | 1000n);
    assert.equal(call(Helper.get_smp_processor_id), 3n);
    stack.bytes.fill(0xff, 0, 32);
    assert.equal(callS(Helper.get_current_comm, stack.address(0), 16), 0);
    assert.deepEqual(stack.bytes.subarray(0, 16), new Uint8Array([99, 117, 114, 108, ...new Array(12).fill(0)]));
    assert.equal(callS(Helper.get_current_comm, stack.address(0), 3), 0);
    assert.equal(text(stack.bytes.subarray(0, 3)), "cu");
    kernel.comm = "a-very-long-process-name";
    assert.equal(kernel.comm, "a-very-long-pro");
    assert.equal(callS(Helper.get_current_comm, stack.address(0), 32), 0);
    assert.equal(text(stack.bytes), "a-very-long-pro");
    assert.deepEqual(stack.bytes.subarray(15, 32), new Uint8Array(17));
    kernel.inTask = false;
    assert.equal(callS(Helper.get_current_pid_tgid), -Errno.EINVAL);
    assert.equal(callS(Helper.get_current_uid_gid), -Errno.EINVAL);
    stack.bytes.fill(0xff, 0, 16);
    assert.equal(callS(Helper.get_current_comm, stack.address(0), 16), -Errno.EINVAL);
    assert.deepEqual(stack.bytes.subarray(0, 16), new Uint8Array(16));
  });

  test("clocks: set, advance, boot, coarse, tai, jiffies", () => {
    const { kernel, call } = setup({ timeNs: 5_000_000_123n });
    assert.equal(call(Helper.ktime_get_ns), 5_000_000_123n);
    kernel.advance(1000);
    assert.equal(call(Helper.ktime_get_ns), 5_000_001_123n);
    kernel.suspend(7n);
    assert.equal(call(Helper.ktime_get_boot_ns), 5_000_001_130n);
    assert.equal(call(Helper.ktime_get_coarse_ns), 5_000_000_000n);
    kernel.setTime(10);
    assert.equal(call(Helper.ktime_get_ns), 10n);
    kernel.taiOffsetNs = 37_000_000_000n;
    assert.equal(call(Helper.ktime_get_tai_ns), 37_000_000_010n);
    kernel.setTime(1_000_000_000n);
    assert.equal(call(Helper.jiffies64), 250n);
    assert.throws(() => kernel.advance(-1), /only moves forward/);
  });

  test("prandom is deterministic per seed", () => {
    const a = setup({ seed: 42 });
    const b = setup({ seed: 42 });
    const c = setup({ seed: 43 });
    const seq = (s: typeof a) => Array.from({ length: 5 }, () => s.call(Helper.get_prandom_u32));
    const sa = seq(a);
    assert.deepEqual(sa, seq(b));
    assert.notDeepEqual(sa, seq(c));
    assert.ok(sa.every((x) => x >= 0n && x < 1n << 32n));
    assert.equal(new Set(sa).size, 5);
    a.kernel.seed(42);
    assert.deepEqual(seq(a), sa);
  });
});

describe("ring buffer helpers", () => {
  test("reserve / write in place / submit / discard / output / query", () => {
    const { maps, kernel, call, callS, put } = setup();
    const rb = maps.ringbuf({ maxEntries: 4096 });
    const s1 = call(Helper.ringbuf_reserve, rb.address, 8, 0);
    assert.notEqual(s1, 0n);
    kernel.memory.write(s1, u64(111));
    const s2 = call(Helper.ringbuf_reserve, rb.address, 8, 0);
    kernel.memory.write(s2, u64(222));
    assert.equal(call(Helper.ringbuf_reserve, rb.address, 8, 1), 0n, "flags must be 0");
    assert.equal(call(Helper.ringbuf_reserve, rb.address, 5000, 0), 0n);
    assert.equal(callS(Helper.ringbuf_discard, s1, 0), 0);
    assert.equal(callS(Helper.ringbuf_submit, s2, 0), 0);
    assert.equal(callS(Helper.ringbuf_output, rb.address, put(0, u64(333)), 8, 0), 0);
    assert.equal(callS(Helper.ringbuf_output, rb.address, put(0, u64(333)), 8, 8), -Errno.EINVAL);
    assert.equal(callS(Helper.ringbuf_output, rb.address, put(0, u64(333)), 9000, 0), -Errno.EAGAIN);
    assert.equal(call(Helper.ringbuf_query, rb.address, 0), 48n);
    assert.deepEqual(rb.consume().map((r) => getU64(r)), [222n, 333n]);
    assert.equal(call(Helper.ringbuf_query, rb.address, 2), 48n);
    assert.throws(() => call(Helper.ringbuf_submit, s2, 0), /already submitted/);
    assert.throws(() => call(Helper.ringbuf_submit, put(0, u64(1)), 0), /not a ring buffer sample/);
    const h = maps.hash({ keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(() => call(Helper.ringbuf_reserve, h.address, 8, 0), /hash map, not the kind/);
  });
});

describe("perf_event_output", () => {
  test("records per CPU with BPF_F_CURRENT_CPU", () => {
    const { maps, kernel, callS, put } = setup({ numCpus: 2 });
    const p = maps.perfEventArray();
    const data = put(0, new Uint8Array([1, 2, 3]));
    kernel.cpu = 1;
    assert.equal(callS(Helper.perf_event_output, 0, p.address, 0xffffffffn, data, 3), 0);
    kernel.cpu = 0;
    assert.equal(callS(Helper.perf_event_output, 0, p.address, 0xffffffffn, data, 2), 0);
    assert.equal(callS(Helper.perf_event_output, 0, p.address, 1, data, 2), -Errno.EOPNOTSUPP);
    // Padded as the kernel pads raw samples: u32 size + data fill whole u64s.
    assert.deepEqual(p.drain(1).map((r) => [...r.data]), [[1, 2, 3, 0]]);
    assert.deepEqual(p.drain(0).map((r) => [...r.data]), [[1, 2, 0, 0]]);
  });

  test("drain() of every slot gives the records in the order written; each CPU's buffer fills and loses alone", () => {
    const { maps, kernel, callS, put } = setup({ numCpus: 2 });
    // Two 3-byte samples (16 bytes each) per CPU: the ring keeps a byte free, as the kernel's does, so a third does not fit.
    const p = maps.perfEventArray({ bufferBytes: 48 });
    const out = (cpu: number, n: number) => {
      kernel.cpu = cpu;
      return callS(Helper.perf_event_output, 0, p.address, 0xffffffffn, put(0, new Uint8Array([n, 0, 0])), 3);
    };
    assert.deepEqual([out(1, 1), out(0, 2), out(1, 3), out(1, 4), out(0, 5)], [0, 0, 0, -Errno.ENOSPC, 0]);
    assert.deepEqual(p.drain().map((r) => [r.data[0], r.cpu]), [[1, 1], [2, 0], [3, 1], [5, 0]]);
    assert.deepEqual([p.lost(0), p.lost(1)], [0, 1]);
    assert.equal(out(1, 6), 0, "draining made room");
  });
});

describe("stack helpers", () => {
  test("get_stackid uses the simulated kernel or user stack", () => {
    const { maps, kernel, callS } = setup();
    const st = maps.stackTrace({ maxEntries: 16 });
    kernel.setStacks({ kernel: [0xffffffff81001000n, 0xffffffff81002000n], user: [0x401000n] });
    const kid = callS(Helper.get_stackid, 0, st.address, 0);
    const uid = callS(Helper.get_stackid, 0, st.address, 1 << 8);
    assert.ok(kid >= 0 && uid >= 0);
    assert.deepEqual(st.lookup(kid), [0xffffffff81001000n, 0xffffffff81002000n]);
    assert.deepEqual(st.lookup(uid), [0x401000n]);
    kernel.setStacks({ kernel: [0xffffffff81001000n] });
    assert.equal(callS(Helper.get_stackid, 0, st.address, 1 << 8), -Errno.EFAULT, "no user stack");
  });

  test("get_stack copies ips, zero-fills, and clears on error", () => {
    const { kernel, callS, stack } = setup();
    kernel.setStacks({ kernel: [1n, 2n, 3n] });
    stack.bytes.fill(0xee, 0, 64);
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 32, 0), 24);
    assert.deepEqual([0, 8, 16, 24].map((o) => getU64(stack.bytes, o)), [1n, 2n, 3n, 0n]);
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 8, 1), 8);
    assert.equal(getU64(stack.bytes), 2n);
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 12, 0), -Errno.EINVAL);
    assert.deepEqual(stack.bytes.subarray(0, 12), new Uint8Array(12));
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 16, 1 << 8), -Errno.EFAULT);
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 16, 4), -Errno.EFAULT, "skip beyond the stack");
  });

  test("get_stack with BPF_F_USER_BUILD_ID gives user frames as struct bpf_stack_build_id holding their ips", () => {
    const { kernel, callS, stack } = setup();
    kernel.setStacks({ kernel: [1n], user: [0x401000n] });
    stack.bytes.fill(0xee, 0, 64);
    const userBuildId = (1 << 8) | (1 << 11);
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 64, userBuildId), 32);
    const view = new DataView(stack.bytes.buffer, stack.bytes.byteOffset);
    // Status 2 (BPF_STACK_BUILD_ID_IP): no build id, the ip where the offset goes; the second frame zeroed.
    assert.deepEqual([view.getInt32(0, true), getU64(stack.bytes, 24)], [2, 0x401000n]);
    assert.deepEqual(stack.bytes.subarray(4, 24), new Uint8Array(20));
    assert.deepEqual(stack.bytes.subarray(32, 64), new Uint8Array(32));
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 48, userBuildId), -Errno.EINVAL, "not a whole number of frames");
    assert.equal(callS(Helper.get_stack, 0, stack.address(0), 64, 1 << 11), -Errno.EINVAL, "build ids of the kernel stack");
  });
});

describe("createVmEnv", () => {
  test("a full VmEnv: helpers, maps by fd and index, tail call lookup, overrides", () => {
    const kernel = new SimKernel();
    const env = createVmEnv({ kernel, helpers: { [Helper.ktime_get_ns]: () => 5 } });
    const m = env.maps.hash({ keySize: 4, valueSize: 4, maxEntries: 1 });
    const pa = env.maps.progArray({ maxEntries: 1 });
    pa.set(0, "prog");
    assert.equal(env.memory, kernel.memory);
    assert.equal(env.mapsByFd!.get(m.fd), m);
    assert.equal(env.mapsByIndex![1], pa);
    assert.equal(env.tailCallTarget!(pa.address, 0), "prog");
    assert.equal(env.helpers.get(Helper.ktime_get_ns)!({} as never), 5);
    assert.ok(env.helpers.has(Helper.trace_printk));
    assert.equal(env.helpers.has(Helper.tail_call), false);
    assert.equal(env.helpers.has(Helper.skb_store_bytes), false, "unknown helpers are absent");
    assert.throws(() => createVmEnv({ kernel: new SimKernel(), maps: env.maps }), /different VM memories/);
  });
});

test("cstr helper sanity", () => {
  assert.deepEqual(cstr("ab"), new Uint8Array([97, 98, 0]));
});
