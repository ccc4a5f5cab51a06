// Global variables given values before loading (LoadOptions.globals, `tsbpf load --set`), as a libbpf tool sets its
// const volatile knobs: the values land in .rodata, .data and .bss as given, a .rodata knob steers the program in the
// kernel (a pid filter), and every wrong name or value is refused before anything is created, saying why.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GlobalValueError, Session, openObject, setGlobals } from "../../runtime/loader/index.js";
import { parseBtf } from "../../compiler/btf/parse.js";
import { mapContents } from "../../cli/report.js";
import { openSys } from "../../runtime/sys/index.js";
import { parseGlobals } from "../../cli/stream-options.js";
import { UserError } from "../../cli/exit-codes.js";
import { fixture, needsClang, needsKernel, openFdCount, readU64 } from "./support.js";

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
    refused("targ_pdi", 1n, /^the object has no global variable targ_pdi \(did you mean targ_pid\?\); its global variables are .*targ_pid/);
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
