// targetPid(): a `.rodata` u32 named tsbpf_target_pid that the loader sets before loading (tsbpf run --command/--pid).
// Both backends place it as a global variable the loader can find (symbol, BTF VAR in the .rodata DATASEC), LLVM's
// reads are not folded to the object's 0, and the simulator gives it the targetPid it is told.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { readBpfObject } from "../../compiler/elf/read.js";
import { BtfKind, parseBtf } from "../../compiler/btf/index.js";
import { STB } from "../../compiler/elf/types.js";
import { missingLlvm } from "../../compiler/llvm/index.js";
import { simulate } from "../../runtime/test/index.js";
import { UNLINKAT_FORMAT } from "../sim/support.js";

const FILE = "test/e2e/fixtures/target-counts.ts";
const formats = { "syscalls/sys_enter_unlinkat": UNLINKAT_FORMAT };
const tracepointFormat = (group: string, name: string) => formats[`${group}/${name}` as keyof typeof formats];

for (const backend of ["own", "llvm"] as const) {
  describe(`targetPid() with the ${backend} backend`, { skip: backend === "llvm" ? (missingLlvm() ?? false) : false }, () => {
    it("is a global u32 in .rodata, described in BTF, and every read of it stays a load", () => {
      const r = compile({ fileName: FILE, text: readFileSync(FILE, "utf8") }, { backend, tracepointFormat });
      assert.deepEqual(r.diagnostics, []);
      const object = readBpfObject(r.object);
      const rodata = object.dataSections.find((s) => s.name === ".rodata")!;
      const variable = rodata.symbols.find((s) => s.name === "tsbpf_target_pid");
      assert.ok(variable, `symbols: ${rodata.symbols.map((s) => s.name).join(", ")}`);
      assert.equal(variable.size, 4);
      assert.equal(variable.offset % 4, 0);
      assert.equal(variable.bind, STB.GLOBAL);
      assert.deepEqual([...rodata.data.subarray(variable.offset, variable.offset + 4)], [0, 0, 0, 0]);
      const btf = parseBtf(object.btf!);
      const datasec = btf.find(".rodata", BtfKind.DATASEC);
      assert.ok(datasec && datasec.kind === BtfKind.DATASEC);
      const entry = datasec.vars.find((v) => btf.nameOf(v.type) === "tsbpf_target_pid");
      assert.ok(entry, "a VAR in the .rodata DATASEC");
      assert.equal(entry.size, 4);
      // The probe reads it twice (the test against 0 and the comparison): neither may become a constant.
      const reads = r.programs[0]!.insns.filter((i) => i.code === 0x61).length;
      assert.ok(reads >= 2, `${reads} 32-bit loads`);
    });

    it("gives the simulator's targetPid: only that process is counted, and every process without one", async () => {
      const options = { tracepointFormats: formats, backend };
      const targeted = await simulate(FILE, { ...options, targetPid: 4242 });
      for (const tgid of [4242, 77, 4242]) targeted.tracepoint("syscalls", "sys_enter_unlinkat", {}, { pid: tgid, tgid });
      assert.deepEqual(targeted.map("calls").toMap(), new Map([[4242, 2n]]));
      const everyone = await simulate(FILE, options);
      for (const tgid of [4242, 77]) everyone.tracepoint("syscalls", "sys_enter_unlinkat", {}, { pid: tgid, tgid });
      assert.deepEqual(everyone.map("calls").toMap(), new Map([[4242, 1n], [77, 1n]]));
    });
  });
}
