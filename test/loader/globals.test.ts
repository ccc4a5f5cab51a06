// Global variables given values before loading (LoadOptions.globals, `tsbpf load --set`), as a libbpf tool sets its
// const volatile knobs: the values land in .rodata, .data and .bss as given, a .rodata knob steers the program in the
// kernel (a pid filter), and every wrong name or value is refused before anything is created, saying why.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GlobalValueError, Session, openObject, setGlobals } from "../../runtime/loader/index.js";
import type { GlobalValue } from "../../runtime/loader/globals.js";
import { parseBtf } from "../../compiler/btf/parse.js";
import { mapContents } from "../../cli/report.js";
import { openSys } from "../../runtime/sys/index.js";
import { parseGlobals } from "../../cli/stream-options.js";
import { UserError } from "../../cli/exit-codes.js";
import { compileC, fixture, needsClang, needsKernel, openFdCount, readU64 } from "./support.js";
import { CLI } from "../support/cli.js";
import { simulate } from "../../runtime/test/index.js";

/** A libbpf tool's filter on several processes: which of targ_pids (counted from 1) the context's pid is, 0 for none. */
const PID_LIST = `#include "loader.h"
const volatile __u32 targ_pids[4] = { 1, 0, 0, 7 };

SEC("syscall") int which_pid(__u32 *ctx)
{
	for (int i = 0; i < 4; i++)
		if (targ_pids[i] && targ_pids[i] == ctx[0])
			return i + 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

describe("global variables set before loading", () => {
  it("--set parses NAME=VALUE into the value's text (the loader reads it by the variable's type); malformed or repeated names are usage errors", () => {
    assert.deepEqual(
      parseGlobals(["targ_pid=1234", "on=true", "label=ab=c", "empty="]),
      new Map<string, unknown>([
        ["targ_pid", "1234"],
        ["on", "true"],
        ["label", "ab=c"],
        ["empty", ""],
      ]),
    );
    assert.equal(parseGlobals(undefined), undefined);
    assert.throws(() => parseGlobals("targ_pid"), (e: unknown) => e instanceof UserError && /--set takes NAME=VALUE .* not targ_pid$/.test(e.message));
    assert.throws(() => parseGlobals(["1x=2"]), /--set takes NAME=VALUE/);
    assert.throws(() => parseGlobals(["a=1", "a=2"]), /--set gives a a value twice/);
  });

  it("values are written into each data section's initial bytes; wrong names and values are refused saying why", needsClang, () => {
    const spec = openObject(fixture("globals"), { name: "globals" });
    const btf = parseBtf(spec.raw.btf!);
    const out = setGlobals(spec.maps, new Map<string, bigint | boolean | string>([["targ_pid", 7n], ["label", "unlink"], ["adjust", -2n], ["seen", 5n], ["bias", true]]), btf);
    const at = (section: string, name: string) => {
      const map = spec.maps.find((m) => m.origin === "data" && m.variables.some((v) => v.name === name))!;
      assert.ok(map.name.endsWith(section), `${name} is in ${map.name}`);
      const v = map.variables.find((x) => x.name === name)!;
      return out.get(map.name)!.subarray(v.offset, v.offset + v.size);
    };
    assert.deepEqual([...at(".rodata", "targ_pid")], [7, 0, 0, 0]);
    assert.equal(new TextDecoder().decode(at(".rodata", "label")), "unlink\0\0\0\0\0\0");
    assert.equal(readU64(at(".rodata", "bias")), 1n);
    assert.equal(readU64(at(".data", "adjust")), 2n ** 64n - 2n);
    assert.equal(readU64(at(".bss", "seen")), 5n);

    const refused = (name: string, value: bigint | boolean | string, why: RegExp) =>
      assert.throws(() => setGlobals(spec.maps, new Map([[name, value]]), btf), (e: unknown) => e instanceof GlobalValueError && why.test(e.message), `${name}=${value}`);
    refused("targ_pdi", 1n, /^the object has no global variable targ_pdi \(did you mean targ_pid or targ_pids\?\); its global variables are .*targ_pid/);
    // The externs fixture's kconfig values: the running kernel gives them.
    const externs = openObject(fixture("externs"), { name: "externs" });
    assert.throws(() => setGlobals(externs.maps, new Map([["CONFIG_HZ", 100n]])), (e: unknown) => e instanceof GlobalValueError && e.message === "CONFIG_HZ is a __kconfig extern, whose value comes from the running kernel (its config, or its release for LINUX_KERNEL_VERSION), not from the command line");
    refused("targ_pid", 2n ** 32n, /^targ_pid is of type __u32, and 4294967296 does not fit in it \(0 to 4294967295\)$/);
    refused("targ_pid", -1n, /^targ_pid is of type __u32, and -1 does not fit in it/);
    refused("bias", -(2n ** 63n) - 1n, /^bias is of type long long, and -9223372036854775809 does not fit in it/);
    refused("label", "twelve chars", /^label holds 12 bytes, so a string of at most 11 bytes \(and its NUL\); "twelve chars" has 12$/);
    refused("label", 3n, /^label is a char array: give it a string$/);
    // Text, as --set gives it, is read as the variable's type reads it.
    refused("targ_pid", "abc", /^targ_pid is of type __u32: give it an integer \(decimal or 0x, e\.g\. targ_pid=42\), not "abc"$/);
    refused("targ_pid", "1e3", /give it an integer/);
    refused("targ_pid", "", /give it an integer/);
    const fromText = setGlobals(spec.maps, new Map([["targ_pid", "0x10"], ["label", "123"], ["bias", "-5"], ["seen", "true"]]), btf);
    const rodata = spec.maps.find((m) => m.origin === "data" && m.name.endsWith(".rodata"))!;
    const field = (bytes: Uint8Array, name: string) => {
      const v = [...spec.maps].flatMap((m) => m.variables).find((x) => x.name === name)!;
      return bytes.subarray(v.offset, v.offset + v.size);
    };
    assert.deepEqual([...field(fromText.get(rodata.name)!, "targ_pid")], [16, 0, 0, 0]);
    assert.equal(new TextDecoder().decode(field(fromText.get(rodata.name)!, "label")), "123".padEnd(12, "\0"), "digits are a string for a char array");
    assert.equal(readU64(field(fromText.get(rodata.name)!, "bias")), 2n ** 64n - 5n);
    // Without BTF, by size alone: -1 fits a 4-byte variable as C converts it, text that is no integer is a string.
    assert.deepEqual([...setGlobals(spec.maps, new Map([["targ_pid", "-1"]])).get(rodata.name)!.subarray(0, 4)], [255, 255, 255, 255]);
    assert.throws(() => setGlobals(spec.maps, new Map([["targ_pid", "abcd"]])), /^GlobalValueError: targ_pid holds 4 bytes, so a string of at most 3 bytes/);
  });

  it("an array of integers, booleans or enums takes a list, element by element; elements not given keep their initial values", needsClang, () => {
    const spec = openObject(fixture("globals"), { name: "globals" });
    const btf = parseBtf(spec.raw.btf!);
    const set = (name: string, value: GlobalValue) => {
      const map = spec.maps.find((m) => m.variables.some((v) => v.name === name))!;
      const v = map.variables.find((x) => x.name === name)!;
      return new DataView(setGlobals(spec.maps, new Map([[name, value]]), btf).get(map.name)!.buffer, v.offset, v.size);
    };
    const elements = (view: DataView, width: 1 | 2 | 4, signed = false) =>
      Array.from({ length: view.byteLength / width }, (_, i) =>
        width === 1 ? (signed ? view.getInt8(i) : view.getUint8(i)) : width === 2 ? (signed ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true)) : signed ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true),
      );
    // As --set gives it: comma-separated text, each element read as its type reads a scalar; the rest keep the C initialiser's { 1, 2, 3, 4 }.
    assert.deepEqual(elements(set("targ_pids", "12,34"), 4), [12, 34, 3, 4]);
    assert.deepEqual(elements(set("targ_pids", "0x10, -7,5,6"), 4, true), [16, -7, 5, 6]);
    assert.deepEqual(elements(set("targ_pids", [99n, "0x20"]), 4), [99, 32, 3, 4], "a list from LoadOptions.globals, of integers or text");
    assert.deepEqual(elements(set("targ_pids", 8n), 4), [8, 2, 3, 4], "one integer is the first element");
    assert.deepEqual(elements(set("offsets", "-32768,32767"), 2, true), [-32768, 32767, 1]);
    assert.deepEqual(elements(set("flags", "false,true"), 1), [0, 1]);
    assert.deepEqual(elements(set("flags", [false]), 1), [0, 0]);
    assert.deepEqual(elements(set("modes", "MODE_WRITE,MODE_OFF"), 4, true), [-2, 0], "enumerators by name, a negative one included");
    assert.deepEqual(elements(set("modes", "MODE_OFF"), 4, true), [0, 1]);
    assert.deepEqual(elements(set("bytes", "1,255"), 1), [1, 255, 9], "a __u8 array is numbers; only a char array is a string");
    assert.deepEqual(elements(set("grid", "7,8,9,10"), 2), [7, 8, 9, 10, 5, 6], "a two-dimensional array fills in C's order, row by row");

    const refused = (name: string, value: GlobalValue, why: RegExp) =>
      assert.throws(() => setGlobals(spec.maps, new Map([[name, value]]), btf), (e: unknown) => e instanceof GlobalValueError && why.test(e.message), `${name}=${value}`);
    refused("targ_pids", "1,2,3,4,5", /^targ_pids is of type pid_t\[4\], which holds 4 elements, and 5 values were given$/);
    refused("targ_pids", [1n, 2n, 3n, 4n, 5n], /^targ_pids is of type pid_t\[4\], which holds 4 elements, and 5 values were given$/);
    refused("grid", "1,2,3,4,5,6,7", /^grid is of type __u16\[2\]\[3\], which holds 6 elements, and 7 values were given$/);
    refused("targ_pids", "1,2147483648", /^targ_pids\[1\] is of type pid_t, and 2147483648 does not fit in it \(-2147483648 to 2147483647\)$/);
    refused("offsets", "0,0,-32769", /^offsets\[2\] is of type short, and -32769 does not fit in it \(-32768 to 32767\)$/);
    refused("bytes", "1,2,256", /^bytes\[2\] is of type __u8, and 256 does not fit in it \(0 to 255\)$/);
    refused("grid", "0,0,0,0,0,70000", /^grid\[1\]\[2\] is of type __u16, and 70000 does not fit in it \(0 to 65535\)$/);
    refused("flags", "true,2", /^flags\[1\] is of type _Bool: give it true or false, not 2$/);
    refused("modes", "MODE_READ,MODE_EXEC", /^modes\[1\] is of type enum mode: give it one of MODE_OFF, MODE_READ, MODE_WRITE or an integer, not "MODE_EXEC"$/);
    refused("targ_pids", "1,,3", /^targ_pids\[1\] is of type pid_t: give it an integer \(decimal or 0x, e\.g\. targ_pids=12,34\), not ""$/);
    refused("targ_pid", [1n, 2n], /^targ_pid is of type __u32, not an array: give it one value, not a list of 2$/);
    refused("label", ["a"], /^label is a char array: give it a string, not a list$/);
    // Text with commas is still a string for a char array.
    assert.equal(new TextDecoder().decode(new Uint8Array(set("label", "a,b").buffer, set("label", "a,b").byteOffset, 12)), "a,b".padEnd(12, "\0"));
  });

  it("a .rodata pid filter set before loading counts that process alone; the values read back as given", needsKernel, async () => {
    const sys = openSys();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-globals-"));
    const files = [0, 1].map((i) => join(dir, `victim-${i}`));
    for (const f of files) writeFileSync(f, "x");
    // Waits for a line on its standard input, then becomes rm (same pid).
    const traced = spawn("/bin/sh", ["-c", 'read go && exec rm -f "$@"', "sh", ...files], { stdio: ["pipe", "ignore", "ignore"] });
    const session = new Session(sys);
    try {
      const obj = session.load(fixture("globals"), { name: "globals", globals: new Map<string, bigint | string>([["targ_pid", BigInt(traced.pid!)], ["label", "rm"], ["seen", 100n]]) });
      obj.attachAll();
      // Unlinks by other processes are not counted.
      for (let i = 0; i < 3; i++) assert.equal(spawnSync("rm", ["-f", join(dir, "no-such-file")]).status, 0);
      const exited = new Promise((resolve) => traced.on("exit", resolve));
      traced.stdin!.end("go\n");
      await exited;
      for (const f of files) assert.equal(existsSync(f), false);
      assert.equal(readU64(obj.variable("seen")), 102n, "an unlinkat per file of the traced rm, counted from the value given");
      assert.deepEqual([...obj.variable("targ_pid")], [...new Uint8Array(new Uint32Array([traced.pid!]).buffer)]);
      assert.equal(new TextDecoder().decode(obj.variable("label")), "rm".padEnd(12, "\0"));
      // At exit the writable sections' variables print as bpftrace prints keyless maps; constants (.rodata) do not.
      assert.deepEqual(
        mapContents(obj).filter((c) => "value" in c),
        [
          { map: "adjust", value: -1 },
          { map: "seen", value: 102 },
        ],
      );
    } finally {
      traced.kill("SIGKILL");
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--set targ_pids=12,34 fills a libbpf-style .rodata array the kernel's verifier then sees: the program finds those pids, and the last element keeps its initialiser", needsKernel, async () => {
    const object = compileC("global-arrays", PID_LIST);
    const sys = openSys();
    const session = new Session(sys);
    try {
      // What tsbpf load --set gives the loader: the text, read by the variable's BTF type.
      const obj = session.load(readFileSync(object), { name: "pidlist", globals: parseGlobals(["targ_pids=12,34"]) });
      assert.deepEqual([...new Uint32Array(obj.variable("targ_pids").slice().buffer)], [12, 34, 0, 7], "the frozen .rodata map reads back as set");
      const which = (pid: number) => {
        const ctx = new Uint8Array(new Uint32Array([pid]).buffer);
        return sys.progTestRun(obj.program("which_pid").fd, { ctxIn: ctx, ctxSizeOut: 0, repeat: 0 }).retval;
      };
      assert.deepEqual([12, 34, 7, 1, 0].map(which), [1, 2, 4, 0, 0], "12 and 34 are the first two, 7 the initialiser's fourth; 1 (a replaced value) and 0 (an empty slot) are none");
    } finally {
      await session.close();
    }
    const tooMany = spawnSync(process.execPath, [...CLI, "load", object, "--set", "targ_pids=1,2,3,4,5"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(tooMany.status, 2, tooMany.stderr);
    assert.equal(tooMany.stderr, "tsbpf: --set: targ_pids is of type __u32[4], which holds 4 elements, and 5 values were given\n");
  });

  it("the simulator's globals take a list for the same array, and leave the elements past it as initialised", needsClang, async () => {
    const bytes = new Uint8Array(readFileSync(compileC("global-arrays", PID_LIST)));
    const which = (sim: Awaited<ReturnType<typeof simulate>>, pid: number) => Number(sim.run("which_pid", new Uint8Array(new Uint32Array([pid]).buffer)).r0);
    const sim = await simulate(bytes, { globals: { targ_pids: [12, 34n] } });
    assert.deepEqual([12, 34, 7, 1].map((pid) => which(sim, pid)), [1, 2, 4, 0]);
    await assert.rejects(simulate(bytes, { globals: { targ_pids: [1, 2, 3, 4, 5] } }), /targ_pids: 5 elements do not fit/);
    await assert.rejects(simulate(bytes, { globals: { targ_pids: [1, 2n ** 32n] } }), /targ_pids\[1\]/);
  });

  it("a value that does not fit is refused before any map or program exists", needsKernel, async () => {
    const session = new Session(openSys());
    const bytes = fixture("globals");
    const fds = openFdCount();
    try {
      assert.throws(() => session.load(bytes, { name: "globals", globals: new Map([["targ_pid", -1n << 40n]]) }), GlobalValueError);
      assert.equal(openFdCount(), fds, "no fd was opened");
    } finally {
      await session.close();
    }
  });
});
