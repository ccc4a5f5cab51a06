// Loads, stores, sign-extending loads, atomics, the stack, pseudo LDDWs and memory faults.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AtomicOp,
  alu64Reg,
  atomic,
  exit,
  lddw,
  ldMapFd,
  ldMapValue,
  ldx,
  ldxsx,
  loadAcquire,
  mov64Imm,
  mov64Reg,
  st,
  storeRelease,
  stx,
  type Insn,
} from "../../compiler/isa/insn.js";
import { AluOp, PseudoLd, Size } from "../../compiler/isa/opcodes.js";
import { Vm, VmError, VmFault, VmLoadError } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { Memory, REGION_BASE, type RegionKind } from "../../runtime/vm/memory.js";
import { TASK_SIZE } from "../../runtime/vm/kernel.js";
import { fakeMap, hex, makeEnv, vm } from "./util.js";

/** Runs `insns` with r1 = a 64-byte buffer (filled by `init`); returns r0 and the buffer. */
function onBuffer(insns: Insn[], init: (b: Uint8Array) => void = () => {}, writable = true): { r0: bigint; bytes: Uint8Array } {
  const bytes = new Uint8Array(64);
  init(bytes);
  const env = makeEnv();
  const r = vm.runOnBuffer(vm.load(insns, env), bytes, { writable });
  return { r0: r.r0, bytes };
}

const u64At = (b: Uint8Array, off: number): bigint => new DataView(b.buffer).getBigUint64(off, true);

function fault(fn: () => unknown): VmFault {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VmFault, `expected a VmFault, got ${String(e)}`);
    assert.ok(e instanceof VmError, "VmFault counts as a VmError");
    return e;
  }
  assert.fail("expected a fault");
}

describe("loads and stores", () => {
  const V = 0x8899aabbccddeeffn;
  const cases: [string, Size, bigint][] = [
    ["b", Size.B, 0xffn],
    ["h", Size.H, 0xeeffn],
    ["w", Size.W, 0xccddeeffn],
    ["dw", Size.DW, V],
  ];
  for (const [name, size, expected] of cases) {
    test(`stx${name} then ldx${name} round-trips the low bytes, zero-extended`, () => {
      const { r0, bytes } = onBuffer([...lddw(2, V), stx(size, 1, 2, 8), ldx(size, 0, 1, 8), exit()]);
      assert.equal(hex(r0), hex(expected));
      assert.equal(hex(u64At(bytes, 8)), hex(expected));
    });
  }

  test("st imm of every size (dw sign-extends the immediate)", () => {
    const { bytes } = onBuffer([st(Size.B, 1, 0, 0x1ff), st(Size.H, 1, 8, -2), st(Size.W, 1, 16, -3), st(Size.DW, 1, 24, -4), mov64Imm(0, 0), exit()]);
    assert.equal(hex(u64At(bytes, 0)), hex(0xffn));
    assert.equal(hex(u64At(bytes, 8)), hex(0xfffen));
    assert.equal(hex(u64At(bytes, 16)), hex(0xfffffffdn));
    assert.equal(hex(u64At(bytes, 24)), hex(0xfffffffffffffffcn));
  });

  test("ldx reads little-endian at an offset from the base", () => {
    const { r0 } = onBuffer([mov64Reg(2, 1), ldx(Size.W, 0, 2, 4), exit()], (b) => b.set([1, 2, 3, 4, 5, 6, 7, 8], 0));
    assert.equal(hex(r0), hex(0x08070605n));
  });

  test("memsx loads sign-extend (b, h, w)", () => {
    const fill = (b: Uint8Array) => b.fill(0x80);
    assert.equal(hex(onBuffer([ldxsx(Size.B, 0, 1, 0), exit()], fill).r0), hex(0xffffffffffffff80n));
    assert.equal(hex(onBuffer([ldxsx(Size.H, 0, 1, 0), exit()], fill).r0), hex(0xffffffffffff8080n));
    assert.equal(hex(onBuffer([ldxsx(Size.W, 0, 1, 0), exit()], fill).r0), hex(0xffffffff80808080n));
    assert.equal(hex(onBuffer([ldxsx(Size.W, 0, 1, 0), exit()], (b) => b.fill(0x7f)).r0), hex(0x7f7f7f7fn));
    assert.equal(hex(onBuffer([ldx(Size.B, 0, 1, 0), exit()], fill).r0), hex(0x80n));
  });

  test("the stack: r10 is the top of a zeroed 512-byte frame", () => {
    const insns = [ldx(Size.DW, 0, 10, -512), ...lddw(2, 0x1234n), stx(Size.DW, 10, 2, -8), ldx(Size.DW, 3, 10, -8), mov64Reg(0, 3), exit()];
    assert.equal(onBuffer(insns).r0, 0x1234n);
    // A second run sees a zeroed stack again.
    const env = makeEnv();
    const p = vm.load([ldx(Size.DW, 0, 10, -8), ...lddw(2, 7n), stx(Size.DW, 10, 2, -8), exit()], env);
    assert.equal(vm.run(p).r0, 0n);
    assert.equal(vm.run(p).r0, 0n);
  });

  test("r10 may not be written", () => {
    assert.throws(() => vm.load([mov64Imm(10, 0), exit()], makeEnv()), (e: unknown) => e instanceof VmLoadError && /instruction 0: r10 is read-only/.test(e.message));
    // A load-acquire writes its dst like a load; a store-release of r10 only reads it.
    assert.throws(() => vm.load([loadAcquire(Size.DW, 10, 10, -8), exit()], makeEnv()), (e: unknown) => e instanceof VmLoadError && /instruction 0: r10 is read-only/.test(e.message));
    assert.equal(vm.run(vm.load([storeRelease(Size.DW, 10, 10, -8), loadAcquire(Size.DW, 0, 10, -8), alu64Reg(AluOp.SUB, 0, 10), exit()], makeEnv())).r0, 0n);
  });
});

describe("atomics", () => {
  const base = 0x00000001_fffffffen;
  const run = (size: typeof Size.W | typeof Size.DW, op: number, operand: bigint, r0 = 0n) => {
    const insns = [...lddw(2, operand), ...lddw(0, r0), atomic(size, op, 1, 2, 8), stx(Size.DW, 1, 2, 16), stx(Size.DW, 1, 0, 24), exit()];
    const { bytes } = onBuffer(insns, (b) => new DataView(b.buffer).setBigUint64(8, base, true));
    return { mem: u64At(bytes, 8), src: u64At(bytes, 16), r0: u64At(bytes, 24) };
  };
  const W = Size.W;
  const DW = Size.DW;

  test("add 64 carries across halves; 32 wraps in place", () => {
    assert.equal(hex(run(DW, AtomicOp.ADD, 3n).mem), hex(0x2_00000001n));
    assert.equal(hex(run(W, AtomicOp.ADD, 3n).mem), hex(0x1_00000001n));
  });

  test("fetch variants load the old value into src (32-bit zero-extended)", () => {
    const d = run(DW, AtomicOp.ADD | AtomicOp.FETCH, 3n);
    assert.deepEqual([hex(d.mem), hex(d.src)], [hex(0x2_00000001n), hex(base)]);
    const w = run(W, AtomicOp.ADD | AtomicOp.FETCH, 0xffffffff_00000003n);
    assert.deepEqual([hex(w.mem), hex(w.src)], [hex(0x1_00000001n), hex(0xfffffffen)]);
  });

  test("without fetch, src is unchanged", () => {
    assert.equal(hex(run(DW, AtomicOp.OR, 0x10n).src), hex(0x10n));
    assert.equal(hex(run(W, AtomicOp.XOR, 0xffff_00000010n).src), hex(0xffff_00000010n));
  });

  test("or, and, xor (with and without fetch)", () => {
    for (const fetch of [0, AtomicOp.FETCH]) {
      assert.equal(hex(run(DW, AtomicOp.OR | fetch, 0xf0000000_00000001n).mem), hex(0xf0000001_ffffffffn));
      assert.equal(hex(run(DW, AtomicOp.AND | fetch, 0xf0000001_0000000fn).mem), hex(0x1_0000000en));
      assert.equal(hex(run(DW, AtomicOp.XOR | fetch, 0x1_00000001n).mem), hex(0xffffffffn));
      assert.equal(hex(run(W, AtomicOp.OR | fetch, 1n).mem), hex(0x1_ffffffffn));
      assert.equal(hex(run(W, AtomicOp.AND | fetch, 0xffn).mem), hex(0x1_000000fen));
      assert.equal(hex(run(W, AtomicOp.XOR | fetch, 0xffffffffn).mem), hex(0x1_00000001n));
      const w = run(W, AtomicOp.AND | fetch, 0xffn);
      assert.equal(hex(w.src), hex(fetch ? 0xfffffffen : 0xffn));
    }
  });

  test("xchg", () => {
    const d = run(DW, AtomicOp.XCHG, 0x1234n);
    assert.deepEqual([hex(d.mem), hex(d.src)], [hex(0x1234n), hex(base)]);
    const w = run(W, AtomicOp.XCHG, 0xaaaa_00001234n);
    assert.deepEqual([hex(w.mem), hex(w.src)], [hex(0x1_00001234n), hex(0xfffffffen)]);
  });

  test("cmpxchg: stores when r0 matches, always loads the old value into r0", () => {
    const hit = run(DW, AtomicOp.CMPXCHG, 0x55n, base);
    assert.deepEqual([hex(hit.mem), hex(hit.r0), hex(hit.src)], [hex(0x55n), hex(base), hex(0x55n)]);
    const miss = run(DW, AtomicOp.CMPXCHG, 0x55n, base + 1n);
    assert.deepEqual([hex(miss.mem), hex(miss.r0)], [hex(base), hex(base)]);
    // 32-bit: compares the low half of r0 only, and zero-extends the loaded value.
    const w = run(W, AtomicOp.CMPXCHG, 0x55n, 0x77777777_fffffffen);
    assert.deepEqual([hex(w.mem), hex(w.r0)], [hex(0x1_00000055n), hex(0xfffffffen)]);
    const wmiss = run(W, AtomicOp.CMPXCHG, 0x55n, 0xfffffffdn);
    assert.deepEqual([hex(wmiss.mem), hex(wmiss.r0)], [hex(base), hex(0xfffffffen)]);
  });

  test("atomics on a read-only region fault", () => {
    const e = fault(() => onBuffer([mov64Imm(2, 1), atomic(Size.DW, AtomicOp.ADD, 1, 2, 0), exit()], () => {}, false));
    assert.match(e.message, /^instruction 1: write of 8 bytes at 0x[0-9a-f]+: buffer is read-only$/);
  });
});

describe("faults name the instruction and the address", () => {
  test("null pointer", () => {
    const e = fault(() => vm.run(vm.load([mov64Imm(0, 0), ldx(Size.W, 0, 0, 0), exit()], makeEnv())));
    assert.equal(e.pc, 1);
    assert.equal(e.address, 0n);
    assert.equal(e.message, "instruction 1: read of 4 bytes at 0x0: unmapped address");
  });

  test("out of bounds past the end of a region", () => {
    const memory = new Memory();
    const region = memory.map("ctx", new Uint8Array(64), { name: "ctx" });
    const p = vm.load([ldx(Size.DW, 0, 1, 60), exit()], makeEnv({ memory }));
    const e = fault(() => vm.run(p, { r1: region.address() }));
    assert.equal(e.pc, 0);
    assert.equal(e.address, region.address(60));
    assert.equal(e.message, `instruction 0: read of 8 bytes at ${hex(region.address(60))}: out-of-bounds access to ctx (64 bytes)`);
  });

  test("before the start of a region", () => {
    const e = fault(() => onBuffer([mov64Imm(0, 0), st(Size.B, 1, -1, 0), exit()]));
    assert.equal(e.pc, 1);
    assert.match(e.message, /^instruction 1: write of 1 byte at 0x[0-9a-f]+: out-of-bounds access to buffer/);
  });

  test("writes to a read-only region", () => {
    const e = fault(() => onBuffer([st(Size.W, 1, 0, 1), exit()], () => {}, false));
    assert.match(e.message, /^instruction 0: write of 4 bytes at 0x[0-9a-f]+: buffer is read-only$/);
  });

  test("stack underflow and overflow", () => {
    const below = fault(() => vm.run(vm.load([ldx(Size.B, 0, 10, -513), exit()], makeEnv())));
    assert.match(below.message, /^instruction 0: read of 1 byte at 0x[0-9a-f]+: out-of-bounds access to stack of frame 0 \(512 bytes\)$/);
    const above = fault(() => vm.run(vm.load([mov64Imm(0, 0), stx(Size.DW, 10, 0, 0), exit()], makeEnv())));
    assert.equal(above.pc, 1);
    assert.equal(BigInt.asUintN(32, above.address), BigInt(REGION_BASE + 512));
  });

  test("address arithmetic carries into the upper half instead of wrapping into the region", () => {
    const memory = new Memory();
    const region = memory.map("ctx", new Uint8Array(16));
    // r1 = region + 2^32: the lower half matches the region's bytes, the upper half does not.
    const p = vm.load([ldx(Size.B, 0, 1, 0), exit()], makeEnv({ memory }));
    const e = fault(() => vm.run(p, { r1: region.address() + (1n << 32n) }));
    assert.match(e.message, /unmapped address/);
  });
});

describe("the address space", () => {
  const kinds: RegionKind[] = ["user", "ctx", "kernel", "map_value", "map_key", "ringbuf", "packet", "stack", "map"];

  test("every user region a memory can hold lies below TASK_SIZE, so helpers read it as user memory", () => {
    const memory = new Memory();
    let last = 0n;
    for (;;) {
      let address: bigint;
      try {
        address = memory.map("user", new Uint8Array(16)).address(15);
      } catch (e) {
        assert.match(String(e), /too many user regions/);
        break;
      }
      assert.ok(address < TASK_SIZE, `user region at ${hex(address)} is above TASK_SIZE`);
      last = address;
    }
    assert.ok(memory.regions.size >= 2048, `only ${memory.regions.size} user regions`);
    assert.ok(last > 0n);
  });

  test("regions of different kinds never share an upper half, however many are mapped", () => {
    const memory = new Memory();
    let mapped = 0;
    for (const kind of kinds) {
      for (;;) {
        try {
          memory.map(kind, new Uint8Array(8));
        } catch {
          break;
        }
        mapped++;
        assert.equal(memory.regions.size, mapped, `a ${kind} region replaced a region mapped before it`);
      }
    }
  });
});

describe("LDDW", () => {
  test("64-bit immediate", () => {
    assert.equal(hex(vm.run(vm.load([...lddw(0, 0xfedcba9876543210n), exit()], makeEnv())).r0), hex(0xfedcba9876543210n));
  });

  test("map fd, map value, map index and map index value resolve through the environment", () => {
    const m = fakeMap(0xffffd000_10000000n, { address: (off) => 0xffffa000_10000000n + BigInt(off) });
    const env = makeEnv({ mapsByFd: new Map([[5, m]]), mapsByIndex: [fakeMap(0x1234n), m] });
    const r = (insns: Insn[]) => vm.run(vm.load([...insns, exit()], env)).r0;
    assert.equal(r(ldMapFd(0, 5)), 0xffffd000_10000000n);
    assert.equal(r(ldMapValue(0, 5, 24)), 0xffffa000_10000018n);
    const idx = lddw(0, 0n, PseudoLd.MAP_IDX);
    assert.equal(r([{ ...idx[0], imm: 0 }, idx[1]]), 0x1234n);
    const idxValue = lddw(0, 0n, PseudoLd.MAP_IDX_VALUE);
    assert.equal(r([{ ...idxValue[0], imm: 1 }, { ...idxValue[1], imm: 8 }]), 0xffffa000_10000008n);
  });

  test("unknown maps, maps without values, BTF ids and functions out of range are load errors", () => {
    const env = makeEnv({ mapsByFd: new Map([[5, fakeMap(0x1000n)]]) });
    const load = (insns: Insn[]) => () => vm.load([mov64Imm(0, 0), ...insns, exit()], env);
    assert.throws(load(ldMapFd(1, 9)), /instruction 1: LDDW names map fd 9, which the environment does not have/);
    assert.throws(load(ldMapValue(1, 5, 0)), /instruction 1: map fd 5 has no value at offset 0/);
    assert.throws(load(lddw(1, 0n, PseudoLd.MAP_IDX)), /instruction 1: LDDW names map index 0/);
    assert.throws(load(lddw(1, 0n, PseudoLd.BTF_ID)), /instruction 1: LDDW of a BTF id is not supported by the VM/);
    const func = lddw(1, 0n, PseudoLd.FUNC);
    assert.throws(load([{ ...func[0], imm: 5 }, func[1]]), /instruction 1: function address out of range: insn 7/);
  });
});

describe("loads the kernel runs as BPF_PROBE_MEM (LoadOptions.probeMem)", () => {
  // r0 = *(u32 *)(r1 + 4) + *(u8 *)(r2 + 0): the first through the buffer, the second through an unmapped address.
  const insns = [...lddw(2, 0xffff888000001000n), ldx(Size.W, 0, 1, 4), ldx(Size.B, 3, 2, 0), { code: 0x0f, dst: 0, src: 3, off: 0, imm: 0 }, exit()];
  for (const tier of ["interpreter", "compiled"] as const) {
    test(`${tier}: a load marked probe-mem reads zero where it faults and the memory where it does not`, () => {
      const machine = new Vm({ tier: selectTier(tier) });
      const bytes = new Uint8Array(64);
      bytes[4] = 7;
      const marked = machine.load(insns, makeEnv(), { probeMem: new Set([2, 3]) });
      assert.equal(machine.runOnBuffer(marked, bytes).r0, 7n);
      // Unmarked, the same load faults as any other.
      assert.ok(fault(() => machine.runOnBuffer(machine.load(insns, makeEnv()), bytes)) instanceof VmFault);
    });
  }
});
