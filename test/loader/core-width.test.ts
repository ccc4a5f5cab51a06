// CO-RE keeps the width of a load unless the field's size differs between the object's BTF and the kernel's (as
// libbpf): a u8 or u32 load out of the raw sys_enter record's u64 args[0] reads the low byte or word, in the kernel
// (an rm's unlinkat, AT_FDCWD) and in the simulator; a load of a field declared narrower than the kernel's is widened
// to it. A load as wide as neither side's field, and a resized signed field, are refused or poisoned as libbpf does.

import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readBpfObject } from "../../compiler/elf/index.js";
import { Op, opSize, Size } from "../../compiler/isa/opcodes.js";
import type { Insn } from "../../compiler/isa/insn.js";
import type { CoreResultOk } from "../../compiler/btf/core.js";
import { ObjectError, POISON_HELPER, Session, kernelBtf, linkProgram, openObject, patchCore, resolveCore } from "../../runtime/loader/index.js";
import { openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { UNLINKAT_FORMAT, hasVmlinux } from "../sim/support.js";
import { compileC, needsClang, needsKernel, u32 } from "./support.js";

const SOURCE = readFileSync(fileURLToPath(new URL("./fixtures/core-width.bpf.c", import.meta.url)), "utf8");
const object = (): string => compileC("core-width", SOURCE, ["-mcpu=v3"]);
const needsBtf = { skip: needsClang.skip || (hasVmlinux ? false : "no /sys/kernel/btf/vmlinux") };

function decodeSeen(b: Uint8Array): { low_byte: bigint; low_word: bigint; path_word: bigint; resized: bigint } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { low_byte: v.getBigUint64(0, true), low_word: v.getBigUint64(8, true), path_word: v.getBigUint64(16, true), resized: v.getBigUint64(24, true) };
}

test("linked against the kernel's BTF, narrow loads of args[] keep clang's widths and the narrower local field is widened", needsBtf, () => {
  const bytes = readFileSync(object());
  const spec = openObject(bytes, { name: "core-width" });
  const linked = linkProgram(spec, spec.programs[0]!, resolveCore(readBpfObject(bytes), kernelBtf()));
  const loads = linked.insns.slice(0, 8).filter((i) => i.src === 1).map((i) => [opSize(i.code), i.off]);
  // args[2] as u32, args[0] as u8 and u32, args[1] as u32, the ___narrow args[1] (u32 at 4 locally) as the kernel's u64 at 24.
  assert.deepEqual(loads.sort(), [[Size.W, 32], [Size.B, 16], [Size.W, 16], [Size.W, 24], [Size.DW, 24]].sort());
});

test("the simulator reads the low byte and word as clang meant, and the widened load all of the field", needsBtf, async () => {
  const sim = await simulate(object(), { tracepointFormats: { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT } });
  sim.tracepoint("syscalls", "sys_enter_unlinkat", { dfd: -100, pathname: 0x7ffd12345678n, flag: 0 }, { pid: 77 });
  assert.deepEqual(sim.map("seen").get(77), { low_byte: 0x9cn, low_word: 0xffffff9cn, path_word: 0x12345678n, resized: 0x7ffd12345678n });
});

describe("in the running kernel", needsKernel, () => {
  it("an rm's unlinkat stores the low byte and word of AT_FDCWD, and the widened load all of it", async () => {
    const sys = openSys();
    const session = new Session(sys);
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-core-width-"));
    try {
      // Loaded at all: widened to u64, the bounded u32 index of v[] would be refused by the verifier.
      const obj = session.loadFile(object());
      obj.attachAll();
      const path = join(dir, "x");
      writeFileSync(path, "x");
      const rm = spawnSync("rm", [path]);
      assert.equal(rm.status, 0, String(rm.stderr));
      const value = sys.mapLookup(obj.map("seen").fd, u32(rm.pid!));
      assert.ok(value, "no entry for the rm");
      // rm's unlinkat(AT_FDCWD, ...) passes the int in a register whose upper half is zero; its path is a stack address.
      const seen = decodeSeen(value);
      assert.deepEqual([seen.low_byte, seen.low_word], [0x9cn, 0xffffff9cn]);
      assert.ok(seen.resized > 0xffffffffn, `args[1] read as ${seen.resized.toString(16)}`);
      assert.equal(BigInt.asUintN(32, seen.resized), seen.path_word);
    } finally {
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("patchCore", () => {
  const ldx = (size: number): Insn => ({ code: 0x61 - Size.W + size, dst: 1, src: 1, off: 0, imm: 0 });
  const result = (fieldSize: number, localFieldSize: number, resizable?: boolean): CoreResultOk => ({
    ok: true, kind: 0, value: 24n, localValue: 16n, targetId: 1, matched: [1], fieldSize, localFieldSize, ...(resizable === undefined ? {} : { resizable }),
  });

  it("keeps a narrow access to a field of the same size, and resizes one as wide as the local field", () => {
    const same = [ldx(Size.B)];
    assert.equal(patchCore(same, 0, result(8, 8), "t"), undefined);
    assert.deepEqual([opSize(same[0]!.code), same[0]!.off], [Size.B, 24]);
    const grown = [ldx(Size.W)];
    patchCore(grown, 0, result(8, 4, true), "t");
    assert.deepEqual([opSize(grown[0]!.code), grown[0]!.off], [Size.DW, 24]);
  });

  it("refuses to resize an access narrower than the local field, and poisons a signed field's", () => {
    assert.throws(() => patchCore([ldx(Size.B)], 0, result(8, 4, true), "t"), (e: unknown) => e instanceof ObjectError && /1 bytes wide, not the field's 4 bytes/.test(e.message));
    const signed = [ldx(Size.W)];
    assert.match(patchCore(signed, 0, result(8, 4, false), "t")!, /only pointers and unsigned integers/);
    assert.deepEqual(signed[0], { code: Op.CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER });
  });
});
