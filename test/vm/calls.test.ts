// Helper calls, BPF-to-BPF calls, tail calls, legacy packet loads, the instruction budget and
// load-time rejection of malformed or unsupported programs.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  alu64Imm,
  alu64Reg,
  call,
  callKfunc,
  callLocal,
  encode,
  exit,
  ja,
  jmpImm,
  lddw,
  ldAbs,
  ldInd,
  ldx,
  mov64Imm,
  mov64Reg,
  stx,
  type Insn,
} from "../../compiler/isa/insn.js";
import { Helper } from "../../compiler/isa/helpers.js";
import { AluOp, JmpOp, Size } from "../../compiler/isa/opcodes.js";
import type { HelperFn, VmEnv } from "../../runtime/vm/env.js";
import { Memory } from "../../runtime/vm/memory.js";
import { BudgetExceeded, DEFAULT_BUDGET, LoadedProgram, VmError, VmFault, VmLoadError, execute } from "../../runtime/vm/vm.js";
import { hex, makeEnv, r0Of, runInsns, vm } from "./util.js";

describe("helper calls", () => {
  test("r1..r5 in, r0 out; r6..r9 untouched; negative numbers sign-extend", () => {
    const seen: bigint[] = [];
    const helpers = new Map<number, HelperFn>([
      [
        Helper.trace_printk,
        (ctx) => {
          for (const n of [1, 2, 3, 4, 5] as const) seen.push(ctx.arg(n));
          assert.equal(ctx.argU32(1), 0xffffffff);
          assert.equal(ctx.pc, 7);
          return -22;
        },
      ],
    ]);
    const insns: Insn[] = [
      mov64Imm(1, -1),
      mov64Imm(2, 2),
      mov64Imm(3, 3),
      mov64Imm(4, 4),
      mov64Imm(5, 5),
      mov64Imm(6, 66),
      mov64Imm(9, 99),
      call(Helper.trace_printk),
      stx(Size.DW, 10, 0, -8),
      alu64Reg(AluOp.ADD, 6, 9),
      mov64Reg(0, 6),
      exit(),
    ];
    const env = makeEnv({ helpers });
    const p = vm.load(insns, env);
    assert.equal(vm.run(p).r0, 165n);
    assert.deepEqual(seen, [0xffffffffffffffffn, 2n, 3n, 4n, 5n]);
    assert.equal(hex(r0Of(insns.slice(0, 8).concat(exit()), {}, env)), hex(BigInt.asUintN(64, -22n)));
  });

  test("bigint results are taken modulo 2^64; large safe numbers keep their high half", () => {
    const env = (v: bigint | number) => makeEnv({ helpers: new Map([[Helper.ktime_get_ns, () => v]]) });
    const prog = [call(Helper.ktime_get_ns), exit()];
    assert.equal(r0Of(prog, {}, env((1n << 64n) + 5n)), 5n);
    assert.equal(r0Of(prog, {}, env(-1n)), 0xffffffffffffffffn);
    assert.equal(r0Of(prog, {}, env(2 ** 40 + 3)), 2n ** 40n + 3n);
  });

  test("a fault raised by a helper names the call instruction", () => {
    const helpers = new Map<number, HelperFn>([[Helper.probe_read, (ctx) => ctx.memory.read(ctx.arg(3), 4)[0]!]]);
    const e = assert.throws(() => runInsns([mov64Imm(3, 16), call(Helper.probe_read), exit()], {}, makeEnv({ helpers })), (e: unknown) => {
      assert.ok(e instanceof VmFault);
      assert.equal(e.pc, 1);
      assert.equal(e.message, "instruction 1: read of 4 bytes at 0x10: unmapped address");
      return true;
    });
    void e;
  });

  test("a helper the environment lacks is a load error naming it", () => {
    assert.throws(
      () => vm.load([mov64Imm(0, 0), call(Helper.ktime_get_ns), exit()], makeEnv()),
      (e: unknown) => e instanceof VmLoadError && e.pc === 1 && e.message === "instruction 1: helper bpf_ktime_get_ns#5 is not supported by the VM",
    );
    assert.throws(() => vm.load([call(99999), exit()], makeEnv()), /instruction 0: helper unknown#99999 is not supported by the VM/);
    assert.throws(() => vm.load([callKfunc(1234), exit()], makeEnv()), /instruction 0: kfunc call \(BTF id 1234\) is not supported by the VM/);
  });
});

/** main, then functions; callLocal offsets are computed from the function names. */
function link(parts: Record<string, Insn[]>, calls: Record<number, string>): Insn[] {
  const starts: Record<string, number> = {};
  const out: Insn[] = [];
  for (const [name, body] of Object.entries(parts)) {
    starts[name] = out.length;
    out.push(...body);
  }
  for (const [at, name] of Object.entries(calls)) out[Number(at)] = callLocal(starts[name]! - Number(at) - 1);
  return out;
}

describe("BPF-to-BPF calls", () => {
  test("arguments in r1..r5, result in r0", () => {
    const insns = link(
      {
        main: [mov64Imm(1, 3), mov64Imm(2, 4), mov64Imm(5, 5), exit() /* call */, alu64Imm(AluOp.ADD, 0, 100), exit()],
        f: [mov64Reg(0, 1), alu64Reg(AluOp.MUL, 0, 2), alu64Reg(AluOp.ADD, 0, 5), exit()],
      },
      { 3: "f" },
    );
    assert.equal(r0Of(insns), 117n);
  });

  test("the callee sees the caller's r6..r9, and they are restored on return", () => {
    const insns = link(
      {
        main: [mov64Imm(6, 6), mov64Imm(7, 7), mov64Imm(8, 8), mov64Imm(9, 9), exit() /* call */, stx(Size.DW, 10, 0, -8), mov64Reg(0, 6)],
        rest: [alu64Reg(AluOp.ADD, 0, 7), alu64Reg(AluOp.ADD, 0, 8), alu64Reg(AluOp.ADD, 0, 9), alu64Imm(AluOp.MUL, 0, 1000), ldx(Size.DW, 1, 10, -8), alu64Reg(AluOp.ADD, 0, 1), exit()],
        f: [mov64Reg(0, 6), alu64Reg(AluOp.ADD, 0, 9), mov64Imm(6, 600), mov64Imm(7, 700), mov64Imm(8, 800), mov64Imm(9, 900), exit()],
      },
      { 4: "f" },
    );
    // main: rest is part of main (no call targets it), so join them.
    assert.equal(r0Of(insns), 30n * 1000n + 15n);
  });

  test("each frame has its own zeroed stack and its own r10", () => {
    const insns = link(
      {
        main: [mov64Imm(1, 1), stx(Size.DW, 10, 1, -8), mov64Reg(6, 10), exit() /* call */, ldx(Size.DW, 2, 10, -8), alu64Reg(AluOp.SUB, 0, 6), alu64Imm(AluOp.MUL, 0, 10), alu64Reg(AluOp.ADD, 0, 2), exit()],
        f: [ldx(Size.DW, 0, 10, -8), jmpImm(JmpOp.JNE, 0, 0, 3), mov64Imm(1, 2), stx(Size.DW, 10, 1, -8), mov64Reg(0, 10), exit()],
      },
      { 3: "f" },
    );
    // r0 = (callee r10 - caller r10) * 10 + caller's slot (still 1); the stacks are different regions.
    const r0 = BigInt.asIntN(64, r0Of(insns));
    assert.equal(r0 % 10n, 1n);
    assert.ok(r0 / 10n !== 0n);
  });

  test("recursion up to 8 frames; a 9th frame faults", () => {
    // f: r0 += 1; r1 -= 1; if r1 == 0 goto out; call f; out: exit
    const prog = (n: number) =>
      link(
        { main: [mov64Imm(1, n), mov64Imm(0, 0), exit() /* call */, exit()], f: [alu64Imm(AluOp.ADD, 0, 1), alu64Imm(AluOp.SUB, 1, 1), jmpImm(JmpOp.JEQ, 1, 0, 1), exit() /* call */, exit()] },
        { 2: "f", 7: "f" },
      );
    assert.equal(r0Of(prog(7)), 7n);
    assert.throws(
      () => r0Of(prog(8)),
      (e: unknown) => e instanceof VmError && e.pc === 7 && /the call stack of 9 frames is too deep \(at most 8\)/.test(e.message),
    );
  });

  test("exit from a subprogram returns to the instruction after the call", () => {
    const insns = link({ main: [mov64Imm(0, 1), exit() /* call */, alu64Imm(AluOp.MUL, 0, 3), exit()], f: [alu64Imm(AluOp.ADD, 0, 4), exit()] }, { 1: "f" });
    assert.equal(r0Of(insns), 15n);
  });

  test("functions may not fall through into each other or jump across", () => {
    const env = makeEnv();
    const fallthrough = link({ main: [exit() /* call */, exit() /* call */, exit()], f: [mov64Imm(0, 1)], g: [exit()] }, { 0: "f", 1: "g" });
    assert.throws(() => vm.load(fallthrough, env), /instruction 3: last insn is not an exit or jmp/);
    const across = link({ main: [exit() /* call */, ja(1), exit()], f: [mov64Imm(0, 1), exit()] }, { 0: "f" });
    assert.throws(() => vm.load(across, env), /instruction 1: jump out of range from insn 1 to 3/);
  });

  test("entries lists every function", () => {
    const insns = link({ main: [exit() /* call */, exit()], f: [exit() /* call */, exit()], g: [exit()] }, { 0: "f", 2: "g" });
    assert.deepEqual(vm.load(insns, makeEnv()).entries, [0, 2, 4]);
  });
});

describe("tail calls", () => {
  const PROG_ARRAY = 0xffffd000_10000000n;

  /** An environment whose prog array holds `slots` (filled after loading). */
  function tailEnv(): { env: VmEnv; slots: (LoadedProgram | null)[] } {
    const slots: (LoadedProgram | null)[] = [];
    const env = makeEnv({
      tailCallTarget: (array, index) => {
        assert.equal(array, PROG_ARRAY);
        return index < slots.length ? slots[index] : undefined;
      },
    });
    return { env, slots };
  }
  const tailCall = (index: number): Insn[] => [...lddw(2, PROG_ARRAY), mov64Imm(3, index), call(Helper.tail_call)];

  test("jumps into the target with registers kept; missing targets fall through", () => {
    const { env, slots } = tailEnv();
    const target = vm.load([mov64Reg(0, 6), alu64Imm(AluOp.ADD, 0, 1000), exit()], env, { name: "target" });
    slots.push(target, null);
    const caller = (index: number) => vm.load([mov64Imm(6, 5), mov64Imm(0, 7), ...tailCall(index), exit()], env);
    assert.equal(vm.run(caller(0)).r0, 1005n);
    assert.equal(vm.run(caller(1)).r0, 7n); // empty slot
    assert.equal(vm.run(caller(9)).r0, 7n); // out of range
  });

  test("at most 33 chained tail calls", () => {
    const { env, slots } = tailEnv();
    const self = vm.load([alu64Imm(AluOp.ADD, 6, 1), ...tailCall(0), mov64Reg(0, 6), exit()], env);
    slots.push(self);
    assert.equal(vm.run(self).r0, 34n);
  });

  test("faults in a tail-called program name it", () => {
    const { env, slots } = tailEnv();
    slots.push(vm.load([mov64Imm(1, 0), ldx(Size.B, 0, 1, 0), exit()], env, { name: "inner" }));
    const e = assert.throws(() => vm.run(vm.load([...tailCall(0), exit()], env)), /^VmFault: instruction 1 of inner: read of 1 byte at 0x0: unmapped address$/);
    void e;
  });

  test("a tail call from a subprogram returns to the subprogram's caller", () => {
    const { env, slots } = tailEnv();
    slots.push(vm.load([mov64Imm(0, 40), exit()], env));
    const main = link({ main: [exit() /* call */, alu64Imm(AluOp.ADD, 0, 2), exit()], f: [...tailCall(0), mov64Imm(0, 0), exit()] }, { 0: "f" });
    assert.equal(vm.run(vm.load(main, env)).r0, 42n);
  });

  test("without tailCallTarget, bpf_tail_call is an ordinary helper", () => {
    assert.throws(() => vm.load([...tailCall(0), exit()], makeEnv()), /helper bpf_tail_call#12 is not supported by the VM/);
  });
});

describe("legacy packet loads", () => {
  const packet = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);

  /** Runs with r1 = r6 = the packet (as the default env maps it). */
  const onPacket = (body: Insn[]) => vm.runOnBuffer(vm.load([mov64Reg(6, 1), ...body], makeEnv()), packet.slice()).r0;

  test("ld_abs reads big-endian words, halves and bytes", () => {
    assert.equal(hex(onPacket([ldAbs(Size.W, 2), exit()])), hex(0x33445566n));
    assert.equal(hex(onPacket([ldAbs(Size.H, 6), exit()])), hex(0x7788n));
    assert.equal(hex(onPacket([ldAbs(Size.B, 7), exit()])), hex(0x88n));
  });

  test("ld_ind adds the register to the immediate", () => {
    assert.equal(hex(onPacket([mov64Imm(7, 3), ldInd(Size.H, 7, 1), exit()])), hex(0x5566n));
    assert.equal(hex(onPacket([mov64Imm(7, 5), ldInd(Size.W, 7, -5), exit()])), hex(0x11223344n));
  });

  test("out of bounds ends the program with r0 = 0", () => {
    assert.equal(onPacket([ldAbs(Size.W, 5), mov64Imm(0, 77), exit()]), 0n);
    assert.equal(onPacket([ldAbs(Size.B, 8), mov64Imm(0, 77), exit()]), 0n);
    assert.equal(onPacket([mov64Imm(7, -1), ldInd(Size.B, 7, 0), mov64Imm(0, 77), exit()]), 0n);
    assert.equal(onPacket([ldAbs(Size.B, -1), mov64Imm(0, 77), exit()]), 0n);
  });

  test("SKF_NET_OFF + k reads at the network header, where a test run's packet starts; SKF_LL_OFF + k fails", () => {
    const SKF_NET_OFF = -0x100000;
    const SKF_LL_OFF = -0x200000;
    assert.equal(hex(onPacket([ldAbs(Size.B, SKF_NET_OFF), exit()])), hex(0x11n));
    assert.equal(hex(onPacket([ldAbs(Size.H, SKF_NET_OFF + 1), exit()])), hex(0x2233n));
    assert.equal(hex(onPacket([mov64Imm(7, SKF_NET_OFF), ldInd(Size.B, 7, 7), exit()])), hex(0x88n));
    assert.equal(onPacket([ldAbs(Size.B, SKF_NET_OFF + 8), mov64Imm(0, 77), exit()]), 0n);
    assert.equal(onPacket([ldAbs(Size.B, SKF_LL_OFF), mov64Imm(0, 77), exit()]), 0n);
  });

  test("out of bounds in a subprogram returns 0 to its caller", () => {
    const insns = link({ main: [mov64Reg(6, 1), exit() /* call */, alu64Imm(AluOp.ADD, 0, 5), exit()], f: [ldAbs(Size.W, 100), mov64Imm(0, 9), exit()] }, { 1: "f" });
    assert.equal(vm.runOnBuffer(vm.load(insns, makeEnv()), packet.slice()).r0, 5n);
  });

  test("env.packetOf names the packet of a context", () => {
    const memory = new Memory();
    const ctx = memory.map("ctx", new Uint8Array(16));
    const env = makeEnv({ memory, packetOf: (c) => (c === ctx.address() ? packet : undefined) });
    const p = vm.load([mov64Reg(6, 1), ldAbs(Size.H, 0), exit()], env);
    assert.equal(hex(vm.run(p, { r1: ctx.address() }).r0), hex(0x1122n));
    assert.throws(() => vm.run(p, { r1: 0n }), /instruction 1: legacy packet load: r6 \(0x0\) does not name a packet/);
  });
});

describe("budget", () => {
  test("an endless loop stops with BudgetExceeded naming the instruction", () => {
    const p = vm.load([mov64Imm(0, 0), alu64Imm(AluOp.ADD, 0, 1), ja(-2)], makeEnv());
    assert.throws(
      () => vm.run(p, { budget: 1000 }),
      (e: unknown) => e instanceof BudgetExceeded && e instanceof VmError && e.budget === 1000 && e.pc === 2 && e.message === "instruction budget of 1000 exhausted at instruction 2",
    );
    assert.throws(() => vm.run(p), (e: unknown) => e instanceof BudgetExceeded && e.budget === DEFAULT_BUDGET);
    const small = vm.load([mov64Imm(0, 0), ja(-2 + 1)], makeEnv(), { budget: 10 });
    assert.throws(() => vm.run(small), (e: unknown) => e instanceof BudgetExceeded && e.budget === 10);
  });

  test("exactly the budget is enough", () => {
    const insns = [mov64Imm(0, 1), mov64Imm(0, 2), exit()];
    assert.equal(runInsns(insns, { budget: 3 }).r0, 2n);
    assert.throws(() => runInsns(insns, { budget: 2 }), BudgetExceeded);
  });
});

describe("load-time rejection", () => {
  const rejects = (insns: Insn[] | Uint8Array, pattern: RegExp) =>
    assert.throws(() => vm.load(insns, makeEnv()), (e: unknown) => e instanceof VmLoadError && pattern.test(e.message));

  test("malformed encodings", () => {
    rejects([], /empty program/);
    rejects([{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }, exit()], /^instruction 0: unknown opcode 0xff$/);
    rejects([mov64Imm(0, 0), { ...mov64Imm(0, 0), dst: 11 }, exit()], /^instruction 1: invalid destination register r11$/);
    rejects([lddw(0, 1n)[0]!], /instruction 0: truncated LDDW/);
    rejects([jmpImm(JmpOp.JEQ, 0, 0, 5), exit()], /instruction 0: jump out of range/);
    rejects([ja(0), ...lddw(0, 0n), exit()].map((x, i) => (i === 0 ? ja(1) : x)), /jump into the middle of an LDDW/);
    rejects(new Uint8Array(12), /not a multiple of 8 bytes/);
  });

  test("falling off the end", () => {
    rejects([mov64Imm(0, 0)], /instruction 0: last insn is not an exit or jmp/);
    rejects([mov64Imm(0, 0), ...lddw(0, 1n)], /last insn is not an exit or jmp/);
  });

  test("encoded bytes load like slots", () => {
    const p = vm.load(encode([mov64Imm(0, 3), exit()]), makeEnv());
    assert.equal(vm.run(p).r0, 3n);
  });
});

describe("run arguments and conveniences", () => {
  test("r1..r5 accept numbers and bigints", () => {
    const insns = [mov64Reg(0, 1), alu64Reg(AluOp.ADD, 0, 2), alu64Reg(AluOp.ADD, 0, 3), alu64Reg(AluOp.ADD, 0, 4), alu64Reg(AluOp.ADD, 0, 5), exit()];
    assert.equal(runInsns(insns, { r1: -1, r2: 1n, r3: 2 ** 33, r4: 0, r5: 1n << 63n }).r0, (1n << 33n) + (1n << 63n));
  });

  test("execute maps a buffer: r1 = its address, r2 = its length", () => {
    const r = execute([ldx(Size.B, 0, 1, 3), alu64Reg(AluOp.ADD, 0, 2), exit()], Uint8Array.from([1, 2, 3, 40]));
    assert.deepEqual(r, { r0: 44n, instructions: 3 });
    assert.equal(execute([mov64Reg(0, 1), alu64Reg(AluOp.OR, 0, 2), exit()]).r0, 0n);
  });
});
