// The LLVM backend's frames: emit.ts gives LLVM the lifetimes of the IR's stack objects, so its stack colouring lets
// objects that are never live together share bytes, as our own backend's frame.ts does. The handlers of
// test/support/stack-reuse.ts (forty map keys, a key per switch case: beyond 512 bytes with an object per value)
// need no more stack through LLVM than through ours; a key carried around a loop keeps bytes of its own beside the
// key built on every turn. Each LLVM object prints the same lines and leaves the same maps as ours in the simulator,
// and loads into the kernel. An object used only inside a loop, whose value may be carried around it, has its
// markers outside the loop (a start inside would be re-executed on every turn and lose the value).

import { test } from "node:test";
import assert from "node:assert/strict";
import { emitModule } from "../../compiler/llvm/index.js";
import { U64, type Block, type IrFunction, type VReg } from "../../compiler/ir/index.js";
import { simulate } from "../../runtime/test/index.js";
import { openObject, loadObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { carriedKey, fortyUpdates, loopValue, printfHolds, switchKeys, type StackCase } from "../support/stack-reuse.js";
import { compileBoth, dumpMap, noLlvm } from "./support.js";

const sys = openSys();
const noKernel = missingRoot() ?? missingBpf(sys);

/** The program's printk lines and maps after one kprobe hit, through one backend. */
async function outcome({ text, args }: StackCase, backend: "own" | "llvm"): Promise<string> {
  const sim = await simulate({ fileName: "s.ts", text }, { arch: "x86_64", backend });
  sim.kprobe("f", { args });
  const maps = [...text.matchAll(/export const (\w+) = new HashMap/g)].map((m) => dumpMap(sim.map(m[1]!)));
  return [sim.output(), ...maps].join("\n");
}

const cases: [string, StackCase, (own: number, llvm: number) => void][] = [
  ["forty map updates, each with its own key and value", fortyUpdates, (own, llvm) => assert.ok(llvm <= own, `own ${own}, LLVM ${llvm}`)],
  ["a value read on every turn of a loop beside values of the body", loopValue, (own, llvm) => assert.ok(llvm <= own, `own ${own}, LLVM ${llvm}`)],
  ["values whose addresses one printf holds", printfHolds, (own, llvm) => assert.ok(llvm <= own, `own ${own}, LLVM ${llvm}`)],
  ["switch cases that each build a 40-byte key", switchKeys, (own, llvm) => assert.ok(llvm <= own, `own ${own}, LLVM ${llvm}`)],
  ["a key carried around a loop beside the key built on every turn", carriedKey, (_, llvm) => assert.ok(llvm >= 48, `two 24-byte keys live together in ${llvm} bytes`)],
];

for (const [name, c, frame] of cases) {
  test(`${name}: LLVM's frame is as small as the lifetimes allow, and its code does what ours does`, { skip: noLlvm }, async () => {
    const { own, llvm } = compileBoth({ fileName: "s.ts", text: c.text }, { arch: "x86_64" });
    assert.deepEqual(llvm.diagnostics, []);
    frame(own.programs[0]!.stackDepth, llvm.programs[0]!.stackDepth);
    assert.equal(await outcome(c, "llvm"), await outcome(c, "own"));
  });

  test(`${name}: LLVM's object passes the kernel's verifier`, { skip: noLlvm ?? noKernel }, () => {
    const { llvm } = compileBoth({ fileName: "s.ts", text: c.text }, { arch: "x86_64" });
    const loaded = loadObject(sys, openObject(llvm.object, { name: "tsbpf_llvm" }));
    try {
      assert.deepEqual([...loaded.programs.keys()], ["k"]);
    } finally {
      loaded.close();
    }
  });
}

test("an object used only inside a loop, its value carried from one turn to the next, has its lifetime markers outside the loop", () => {
  // i = 0; sum = 0; while (i < 4) { if (i == 0) slot = 10; v = slot; sum += v; slot = v * 2; i++ } return sum
  const reg = (id: number): VReg => ({ kind: "reg", id, type: U64 });
  const imm = (value: bigint) => ({ kind: "imm" as const, value, type: U64 });
  const [ctx, i, sum, v, twice] = [0, 1, 2, 3, 4].map(reg) as [VReg, VReg, VReg, VReg, VReg];
  const slot = { kind: "stack" as const, object: 0 };
  const blocks: Block[] = [
    { id: 0, insts: [{ op: "mov", dst: i, src: imm(0n) }, { op: "mov", dst: sum, src: imm(0n) }], term: { op: "jmp", target: 1 } },
    { id: 1, insts: [], term: { op: "br", cmp: "lt", signed: false, a: i, b: imm(4n), then: 2, else: 5 } },
    { id: 2, insts: [], term: { op: "br", cmp: "eq", signed: false, a: i, b: imm(0n), then: 3, else: 4 } },
    { id: 3, insts: [{ op: "st", base: slot, offset: 0, size: 8, src: imm(10n) }], term: { op: "jmp", target: 4 } },
    {
      id: 4,
      insts: [
        { op: "load", dst: v, base: slot, offset: 0, size: 8, signed: false },
        { op: "bin", kind: "add", dst: sum, a: sum, b: v },
        { op: "bin", kind: "mul", dst: twice, a: v, b: imm(2n) },
        { op: "st", base: slot, offset: 0, size: 8, src: twice },
        { op: "bin", kind: "add", dst: i, a: i, b: imm(1n) },
      ],
      term: { op: "jmp", target: 1 },
    },
    { id: 5, insts: [], term: { op: "ret", value: sum } },
  ];
  const fn: IrFunction = { name: "k", section: "kprobe/f", ctx, blocks, stack: [{ size: 8, align: 8 }], vregCount: 5 };
  const { text } = emitModule({ functions: [fn], rodata: new Uint8Array(0), license: "GPL", structs: new Map(), fileName: "s.ts", sourceText: "" });
  // The block each marker of %stack0 is in.
  let block = "";
  const at: string[] = [];
  for (const line of text.split("\n")) {
    block = /^(b\d+):/.exec(line)?.[1] ?? block;
    const marker = /@llvm\.lifetime\.(start|end)\.p0\(i64 8, ptr %stack0\)/.exec(line);
    if (marker) at.push(`${marker[1]} in ${block}`);
  }
  assert.deepEqual(at, ["start in b0", "end in b5"]);
});
