// USDT without root: argument notes parsed into usdt.bpf.h's specs (x86-64 and arm64 forms, and the forms refused),
// the 208-byte spec encoding, python3.11's .note.stapsdt read as `readelf` reads it, usdt/ section names, and the
// fixture object attached on FakeSys: one perf event per site with the semaphore's offset, links carrying the spec id
// as cookie, the specs in __bpf_usdt_specs, and nothing left open after close. Also the attach errors: no specs map,
// an unknown probe (with the nearest names), a binary without notes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { FakeSys, AttachType } from "../../runtime/sys/index.js";
import { AttachError, USDT_SPEC_SIZE, UsdtArgError, UsdtArgType, classifySection, encodeUsdtSpec, loadObject, openObject, parseUsdtArgs, readUsdtSites, type UsdtArg } from "../../runtime/loader/index.js";
import { compileC, needsClang } from "./support.js";
import { usdtObject, usdtSkip, usdtTarget } from "./usdt-fixtures.js";

const { CONST, REG, REG_DEREF } = UsdtArgType;
type Expected = [type: number, valOff: bigint, regOff: number, size: number, signed: boolean];
const shape = (a: UsdtArg): Expected => [a.type, a.valOff, a.regOff, a.size, a.signed];
const neg = (n: bigint) => BigInt.asUintN(64, n);

describe("USDT argument notes", () => {
  it("x86-64: registers of every width and name, memory at a register plus an offset, constants", () => {
    const cases: [string, Expected][] = [
      ["-4@%edi", [REG, 0n, 112, 4, true]],
      ["8@%rax", [REG, 0n, 80, 8, false]],
      ["8@-8(%rbp)", [REG_DEREF, neg(-8n), 32, 8, false]],
      ["-4@112(%rsp)", [REG_DEREF, 112n, 152, 4, true]],
      ["8@(%rbx)", [REG_DEREF, 0n, 40, 8, false]],
      ["4@$5", [CONST, 5n, 0, 4, false]],
      ["-4@$-9", [CONST, neg(-9n), 0, 4, true]],
      ["8@$0x10", [CONST, 16n, 0, 8, false]],
      ["1@%al", [REG, 0n, 80, 1, false]],
      ["-1@%sil", [REG, 0n, 104, 1, true]],
      ["2@%dx", [REG, 0n, 96, 2, false]],
      ["8@%r8", [REG, 0n, 72, 8, false]],
      ["-4@%r9d", [REG, 0n, 64, 4, true]],
      ["2@%r10w", [REG, 0n, 56, 2, false]],
      ["1@%r11b", [REG, 0n, 48, 1, false]],
      ["8@%r12", [REG, 0n, 24, 8, false]],
      ["8@%r13", [REG, 0n, 16, 8, false]],
      ["8@%r14", [REG, 0n, 8, 8, false]],
      ["8@%r15", [REG, 0n, 0, 8, false]],
      ["8@%rcx", [REG, 0n, 88, 8, false]],
      ["4@%ecx", [REG, 0n, 88, 4, false]],
      ["8@%rdx", [REG, 0n, 96, 8, false]],
      ["8@%rsi", [REG, 0n, 104, 8, false]],
      ["8@%rdi", [REG, 0n, 112, 8, false]],
      ["8@%rbp", [REG, 0n, 32, 8, false]],
      ["4@%ebp", [REG, 0n, 32, 4, false]],
      ["8@%rsp", [REG, 0n, 152, 8, false]],
      ["4@%ebx", [REG, 0n, 40, 4, false]],
      ["-8@-0x20(%r15)", [REG_DEREF, neg(-32n), 0, 8, true]],
    ];
    for (const [text, expected] of cases) {
      const [a] = parseUsdtArgs(text);
      assert.deepEqual(shape(a!), expected, text);
      assert.equal(a!.bitshift, 64 - 8 * expected[3], text);
      assert.equal(a!.text, text);
    }
    const several = parseUsdtArgs("8@%rbp 8@%r12 -4@%eax");
    assert.deepEqual(several.map(shape), [
      [REG, 0n, 32, 8, false],
      [REG, 0n, 24, 8, false],
      [REG, 0n, 80, 4, true],
    ]);
    assert.deepEqual(parseUsdtArgs(""), []);
  });

  it("x86-64 forms libbpf refuses too, and malformed notes, are errors naming the argument", () => {
    const cases: [string, RegExp][] = [
      ["8@counter(%rip)", /argument "8@counter\(%rip\)" is a RIP-relative symbol/],
      ["8@16(%rip)", /argument "8@16\(%rip\)" is RIP-relative/],
      ["8@8(%rax,%rbx,8)", /argument "8@8\(%rax,%rbx,8\)" uses an index register/],
      ["8@(,%rbx,4)", /uses an index register/],
      ["8@%xmm0", /unknown x86-64 register %xmm0/],
      ["8@-8(%xmm1)", /unknown x86-64 register %xmm1/],
      ["3@%eax", /has size 3; sizes are 1, 2, 4 or 8 bytes/],
      ["%eax", /argument "%eax" is not SIZE@LOCATION/],
      ["8@%fs:16", /location that is not supported/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseUsdtArgs(text), (e) => e instanceof UsdtArgError && message.test(e.message), text);
    assert.throws(() => parseUsdtArgs(Array.from({ length: 13 }, () => "8@%rax").join(" ")), /13 arguments, more than the 12/);
  });

  it("arm64: x and w registers, sp, memory with and without an offset, constants", () => {
    const cases: [string, Expected][] = [
      ["8@x0", [REG, 0n, 0, 8, false]],
      ["-4@w1", [REG, 0n, 8, 4, true]],
      ["8@x29", [REG, 0n, 232, 8, false]],
      ["-4@[sp, 12]", [REG_DEREF, 12n, 248, 4, true]],
      ["8@[x1]", [REG_DEREF, 0n, 8, 8, false]],
      ["-4@[x29, -12]", [REG_DEREF, neg(-12n), 232, 4, true]],
      ["4@5", [CONST, 5n, 0, 4, false]],
      ["-8@-3", [CONST, neg(-3n), 0, 8, true]],
    ];
    for (const [text, expected] of cases) assert.deepEqual(shape(parseUsdtArgs(text, "arm64")[0]!), expected, text);
    assert.deepEqual(parseUsdtArgs("8@x0 -4@[sp, 12] 4@5", "arm64").map((a) => a.text), ["8@x0", "-4@[sp, 12]", "4@5"]);
    assert.throws(() => parseUsdtArgs("8@x31", "arm64"), /unknown arm64 register x31/);
    assert.throws(() => parseUsdtArgs("8@[x1, x2]", "arm64"), /arm64 location that is not supported/);
  });

  it("a spec is struct __bpf_usdt_spec: 12 arg specs of 16 bytes, the cookie at 192, the count at 200, 208 bytes", () => {
    const bytes = encodeUsdtSpec(parseUsdtArgs("-4@-20(%rbp) 8@$7 1@%al"), 0x1122334455667788n);
    assert.equal(bytes.length, USDT_SPEC_SIZE);
    const v = new DataView(bytes.buffer);
    // -4@-20(%rbp): val_off -20, REG_DEREF, reg_off 32, signed, shift 32.
    assert.equal(v.getBigInt64(0, true), -20n);
    assert.equal(v.getUint32(8, true), REG_DEREF);
    assert.equal(v.getInt16(12, true), 32);
    assert.equal(v.getUint8(14), 1);
    assert.equal(v.getInt8(15), 32);
    // 8@$7: a constant, unsigned, no shift.
    assert.deepEqual([v.getBigUint64(16, true), v.getUint32(24, true), v.getInt16(28, true), v.getUint8(30), v.getInt8(31)], [7n, CONST, 0, 0, 0]);
    // 1@%al: rax, unsigned, shift 56.
    assert.deepEqual([v.getBigUint64(32, true), v.getUint32(40, true), v.getInt16(44, true), v.getUint8(46), v.getInt8(47)], [0n, REG, 80, 0, 56]);
    assert.ok(bytes.subarray(48, 192).every((b) => b === 0));
    assert.equal(v.getBigUint64(192, true), 0x1122334455667788n);
    assert.equal(v.getInt16(200, true), 3);
    assert.ok(bytes.subarray(202).every((b) => b === 0));
    assert.equal(encodeUsdtSpec([]).length, USDT_SPEC_SIZE);
  });
});

/** readelf's notes of a binary: provider, name, location, base, semaphore and arguments of each. */
function readelfNotes(path: string): { provider: string; name: string; location: bigint; semaphore: bigint; args: string }[] {
  const text = spawnSync("readelf", ["-n", path], { encoding: "utf8" }).stdout;
  const notes = [];
  const re = /Provider: (\S+)\n\s+Name: (\S+)\n\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\n\s+Arguments:(.*)\n/g;
  for (let m; (m = re.exec(text)); ) notes.push({ provider: m[1]!, name: m[2]!, location: BigInt(m[3]!), semaphore: BigInt(m[4]!), args: m[5]!.trim() });
  return notes;
}

/** An address translated through readelf's PT_LOAD lines (offset = address - VirtAddr + Offset). */
function readelfFileOffset(path: string, address: bigint): number {
  const text = spawnSync("readelf", ["-lW", path], { encoding: "utf8" }).stdout;
  for (const m of text.matchAll(/^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)/gm)) {
    const [offset, vaddr, filesz] = [BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!)];
    if (address >= vaddr && address < vaddr + filesz) return Number(address - vaddr + offset);
  }
  throw new Error(`0x${address.toString(16)} is in no PT_LOAD of ${path}`);
}

const PYTHON = "/usr/bin/python3.11";
const readelfSkip = spawnSync("readelf", ["--version"]).status === 0 ? false : "readelf is missing";

describe("USDT sites of binaries", () => {
  it("python3.11's notes are readelf's: providers, names, argument text, and locations and semaphores as file offsets", { skip: !existsSync(PYTHON) ? `${PYTHON} is absent` : readelfSkip }, () => {
    const sites = readUsdtSites(PYTHON);
    const notes = readelfNotes(PYTHON);
    if (notes.length === 0) return; // a build without --with-dtrace
    assert.equal(sites.length, notes.length);
    sites.forEach((s, i) => {
      const n = notes[i]!;
      assert.deepEqual([s.provider, s.name, s.argText], [n.provider, n.name, n.args]);
      assert.equal(s.offset, readelfFileOffset(PYTHON, n.location), `${s.name} location`);
      assert.equal(s.semaphoreOffset, n.semaphore === 0n ? 0 : readelfFileOffset(PYTHON, n.semaphore), `${s.name} semaphore`);
      assert.equal(s.argError, undefined, s.argError);
    });
    const entry = sites.find((s) => s.provider === "python" && s.name === "function__entry");
    if (entry?.argText === "8@%rbp 8@%r12 -4@%eax") {
      assert.deepEqual(entry.args.map(shape), [
        [REG, 0n, 32, 8, false],
        [REG, 0n, 24, 8, false],
        [REG, 0n, 80, 4, true],
      ]);
      assert.notEqual(entry.semaphoreOffset, 0);
    }
  });

  it("the gcc fixture: a register, a stack slot, a constant, a negative int, a byte; the guarded probe's semaphore", { skip: usdtSkip || readelfSkip }, () => {
    const target = usdtTarget();
    const sites = readUsdtSites(target);
    assert.deepEqual(
      sites.map((s) => `${s.provider}:${s.name}`),
      ["tsbpf:args", "tsbpf:site", "tsbpf:site", "tsbpf:guarded"],
    );
    const [args, guarded] = ["args", "guarded"].map((n) => sites.find((s) => s.name === n)!) as [(typeof sites)[0], (typeof sites)[0]];
    assert.deepEqual(
      args.args.map((a) => [a.type, a.size, a.signed]),
      [
        [REG, 8, true],
        [REG_DEREF, 8, true],
        [CONST, 4, true],
        [REG, 4, true],
        [REG, 1, false],
      ],
    );
    assert.equal(args.args[2]!.valOff, 42n);
    assert.equal(args.semaphoreOffset, 0);
    const notes = readelfNotes(target);
    const guardedNote = notes[sites.indexOf(guarded)]!;
    assert.equal(guarded.semaphoreOffset, readelfFileOffset(target, guardedNote.semaphore));
    assert.equal(guarded.offset, readelfFileOffset(target, guardedNote.location));
  });

  it("a binary without stapsdt notes has no sites; a file that is not ELF is an error", () => {
    assert.deepEqual(readUsdtSites(process.execPath).filter((s) => s.provider === "tsbpf"), []);
    assert.throws(() => readUsdtSites("/etc/hostname"), /not a binary whose USDT notes can be read/);
    assert.throws(() => readUsdtSites("/no/such/binary"), /cannot read \/no\/such\/binary: ENOENT/);
  });

  it("usdt/ sections are kprobe programs with a binary, provider and name; usdt alone attaches by hand", () => {
    const c = classifySection("usdt//usr/bin/python3:python:function__entry");
    assert.equal(c.type, 2);
    assert.deepEqual(c.attach, { kind: "usdt", binary: "/usr/bin/python3", provider: "python", name: "function__entry" });
    assert.deepEqual(classifySection("usdt/libc.so.6:libc:setjmp").attach, { kind: "usdt", binary: "libc.so.6", provider: "libc", name: "setjmp" });
    assert.equal(classifySection("usdt.s/python3:python:line").flags, 1 << 4);
    const manual = classifySection("usdt").attach;
    assert.equal(manual.kind, "manual");
    assert.match(manual.kind === "manual" ? manual.why : "", /usdt\/BINARY:PROVIDER:NAME/);
    const malformed = classifySection("usdt/python3:function__entry").attach;
    assert.match(malformed.kind === "manual" ? malformed.why : "", /is not usdt\/BINARY:PROVIDER:NAME, so it cannot be attached from its section/);
  });
});

describe("USDT attach on FakeSys", { skip: usdtSkip }, () => {
  it("one uprobe per site with its semaphore, linked with the spec id as cookie; the specs in __bpf_usdt_specs; nothing open after close", () => {
    const target = usdtTarget();
    const sys = new FakeSys();
    const obj = loadObject(sys, openObject(readFileSync(usdtObject(target))));
    const { attached } = obj.attachAll({ pid: 4242 });
    assert.deepEqual(
      attached.map((a) => a.description),
      [`usdt ${target}:tsbpf:args (1 site)`, `usdt ${target}:tsbpf:guarded (1 site)`],
    );
    // The sites of the probes the object attaches to, in its programs' order.
    const sites = ["args", "guarded"].map((n) => readUsdtSites(target).find((s) => s.name === n)!);
    const links = attached.map((a) => sys.link(a.fd)!);
    assert.deepEqual(
      links.map((l) => [l.attachType, l.perfEventCookie]),
      [
        [AttachType.PERF_EVENT, 0n],
        [AttachType.PERF_EVENT, 1n],
      ],
    );
    links.forEach((l, i) => {
      const event = sys.perfEvent(l.targetFd)!;
      assert.equal(event.attr.uprobePath, target);
      assert.equal(event.attr.config2, BigInt(sites[i]!.offset));
      assert.equal(event.attr.refCtrOffset, sites[i]!.semaphoreOffset);
      assert.equal(event.options.pid, 4242);
      assert.equal(event.enabled, true);
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, i, true);
      assert.deepEqual(sys.mapLookup(obj.map("__bpf_usdt_specs").fd, key), encodeUsdtSpec(sites[i]!.args));
    });
    assert.notEqual(sites[1]!.semaphoreOffset, 0);
    obj.close();
    assert.deepEqual(sys.leaks(), []);
  });

  it("an object without __bpf_usdt_specs, an unknown probe and a binary without notes are AttachErrors with a reason", needsClang, () => {
    const target = usdtTarget();
    const source = (section: string, withSpecs: boolean) => `#include "loader.h"
struct spec { char bytes[208]; };
${withSpecs ? "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, struct spec); } __bpf_usdt_specs SEC(\".maps\");" : ""}
SEC("${section}") int probe(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;
    const attach = (section: string, withSpecs: boolean) => {
      const sys = new FakeSys();
      const obj = loadObject(sys, openObject(readFileSync(compileC("usdt-errors", source(section, withSpecs)))));
      try {
        return obj.attachAll();
      } finally {
        obj.close();
        assert.deepEqual(sys.leaks(), []);
      }
    };
    const refused = (section: string, withSpecs: boolean, message: RegExp, reason: string) =>
      assert.throws(
        () => attach(section, withSpecs),
        (e) => e instanceof AttachError && e.reason === reason && message.test(e.message),
      );
    refused(`usdt/${target}:tsbpf:args`, false, /: the object has no __bpf_usdt_specs map, where the probe's argument specs go \(include <bpf\/usdt\.bpf\.h> and read arguments with BPF_USDT\(\)\)$/, "unsupported");
    refused(`usdt/${target}:tsbpf:arg`, true, /: no USDT probe tsbpf:arg in .*usdt-target-\w+; did you mean tsbpf:args\?$/, "not-found");
    refused(`usdt/${target}:other:thing`, true, /: no USDT probe other:thing in .*usdt-target-\w+ \(its probes: tsbpf:args, tsbpf:site, tsbpf:guarded\)$/, "not-found");
    refused("usdt//etc/hostname:tsbpf:args", true, /not a binary whose USDT notes can be read/, "not-found");
    refused(`usdt/${process.execPath}:tsbpf:args`, true, /has no USDT probes \(no stapsdt notes in a \.note\.stapsdt section\)$/, "not-found");
    refused("usdt/no-such-binary-anywhere:tsbpf:args", true, /cannot find binary no-such-binary-anywhere on PATH/, "not-found");
  });
});
