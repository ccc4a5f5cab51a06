// trace_printk / trace_vprintk / snprintf: the kernel's format rules, rendering and errors.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, cstr, u64 } from "./util.js";
import { Helper } from "../../compiler/isa/helpers.js";
import { Errno } from "../../runtime/vm/maps/index.js";
import { hashPointer } from "../../runtime/vm/helpers/index.js";

type Arg = bigint | number;

/** trace_printk with a format placed on the scratch stack; returns [r0, trace line or undefined]. */
function printk(fmt: string | Uint8Array, ...args: Arg[]) {
  const s = setup();
  return printkIn(s, fmt, ...args);
}
function printkIn(s: ReturnType<typeof setup>, fmt: string | Uint8Array, ...args: Arg[]): [number, string | undefined] {
  const bytes = typeof fmt === "string" ? cstr(fmt) : fmt;
  const before = s.kernel.trace.length;
  const r = s.callS(Helper.trace_printk, s.put(0, bytes), bytes.length, ...args);
  const line = s.kernel.trace.length > before ? s.kernel.trace[s.kernel.trace.length - 1]!.text : undefined;
  return [r, line];
}
function vprintk(s: ReturnType<typeof setup>, fmt: string, args: Arg[]): [number, string | undefined] {
  const f = cstr(fmt);
  const data = new Uint8Array(args.length * 8);
  args.forEach((a, i) => data.set(u64(a), i * 8));
  const before = s.kernel.trace.length;
  const r = s.callS(Helper.trace_vprintk, s.put(0, f), f.length, args.length ? s.put(256, data) : 0, data.length);
  return [r, s.kernel.trace.length > before ? s.kernel.trace.at(-1)!.text : undefined];
}

describe("trace_printk rendering", () => {
  const cases: Array<[string, Arg[], string]> = [
    ["hello\n", [], "hello\n"],
    ["%d %i", [-5, 7], "-5 7"],
    ["%d", [0x100000005n], "5"],
    ["%u", [-1], "4294967295"],
    ["%x %X", [255, 255], "ff FF"],
    ["%ld %lu", [-1, -1], "-1 18446744073709551615"],
    ["%lld %llx %lli", [-2, 0xdeadbeefcafen, 3], "-2 deadbeefcafe 3"],
    ["[%5d]", [42], "[   42]"],
    ["[%-5d]", [42], "[42   ]"],
    ["[%05d]", [-42], "[-0042]"],
    ["[%-05d]", [7], "[7    ]"],
    ["[%+d] [% d] [%+u]", [5, 5, 5], "[+5] [ 5] [5]"],
    ["[%08x]", [0xbeef], "[0000beef]"],
    ["%c%c%3c", [104, 105, 33], "hi  !"],
    ["[%-3c]", [65], "[A  ]"],
    ["100%% sure", [], "100% sure"],
    ["%%d", [], "%d"],
    ["%px", [0xffff888012345678n], "ffff888012345678"],
    ["[%20px]", [0xabcn], "[                 abc]"],
    ["%p", [0], "0000000000000000"],
    ["tab\tok", [], "tab\tok"],
    ["caf\u00e9 %d", [1], "caf\u00e9 1"],
  ];
  for (const [fmt, args, want] of cases) {
    test(JSON.stringify(fmt), () => {
      const [r, line] = printk(fmt, ...args);
      assert.equal(line, want);
      assert.equal(r, new TextEncoder().encode(want).length);
    });
  }

  test("%p hashes kernel pointers into 32 bits; %pK follows kptr_restrict", () => {
    const s = setup();
    const ptr = 0xffff888012345678n;
    const hashed = hashPointer(ptr).toString(16).padStart(16, "0");
    assert.match(hashed, /^00000000[0-9a-f]{8}$/);
    assert.equal(printkIn(s, "%p", ptr)[1], hashed);
    assert.equal(printkIn(s, "%pK", ptr)[1], hashed);
    s.kernel.kptrRestrict = 2;
    assert.equal(printkIn(s, "%pK", ptr)[1], "0000000000000000");
    s.kernel.kptrRestrict = 1;
    assert.equal(printkIn(s, "%pK", ptr)[1], "ffff888012345678", "uid 0");
    s.kernel.hashPointers = false;
    assert.equal(printkIn(s, "%p.", ptr)[1], "ffff888012345678.");
    // Alphanumerics after %pK are swallowed by the renderer, as in the kernel.
    s.kernel.kptrRestrict = 2;
    assert.equal(printkIn(s, "%pKabc|", ptr)[1], "0000000000000000|");
  });

  test("%s, %pks, %pus from simulated memory; faults print empty", () => {
    const s = setup();
    const k = s.kernel.kernelString("kern");
    const u = s.kernel.userString("user");
    assert.equal(printkIn(s, "%s %s", k, u)[1], "kern user");
    assert.equal(printkIn(s, "[%6s][%-6s]", k, k)[1], "[  kern][kern  ]");
    assert.equal(printkIn(s, "%pks %pus", k, u)[1], "kern user");
    assert.equal(printkIn(s, "[%pks][%pus]", u, k)[1], "[][]", "wrong address space");
    assert.equal(printkIn(s, "[%s]", 0)[1], "[]");
    s.kernel.markFaulting(k);
    assert.equal(printkIn(s, "[%s]", k)[1], "[]");
  });

  test("%pI4 %pi4 %pI6 %pi6", () => {
    const s = setup();
    const v4 = s.kernel.kernelBytes(new Uint8Array([192, 168, 1, 2]));
    const v6 = s.kernel.kernelBytes(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    assert.equal(printkIn(s, "%pI4 %pi4", v4, v4)[1], "192.168.1.2 192.168.001.002");
    assert.equal(printkIn(s, "%pI6", v6)[1], "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert.equal(printkIn(s, "%pi6", v6)[1], "20010db8000000000000000000000001");
    assert.equal(printkIn(s, "%pI4", s.kernel.userBytes(new Uint8Array([1, 2, 3, 4])))[1], "0.0.0.0", "user memory is not read");
  });

  test("%pS %ps %pB with simulated symbols", () => {
    const s = setup();
    s.kernel.addSymbol({ name: "do_sys_open", address: 0xffffffff81200000n, size: 0x80 });
    s.kernel.addSymbol({ name: "nf_hook", address: 0xffffffffc0001000n, size: 0x40, module: "nf_tables" });
    assert.equal(printkIn(s, "%pS", 0xffffffff81200010n)[1], "do_sys_open+0x10/0x80");
    assert.equal(printkIn(s, "%ps", 0xffffffff81200010n)[1], "do_sys_open");
    assert.equal(printkIn(s, "%pS", 0xffffffffc0001004n)[1], "nf_hook+0x4/0x40 [nf_tables]");
    assert.equal(printkIn(s, "%pB", 0xffffffff81200080n)[1], "do_sys_open+0x80/0x80", "return address: looked up at address - 1");
    assert.equal(printkIn(s, "%pS", 0xffffffff81000000n)[1], "0xffffffff81000000");
  });

  test("output is cut at 1023 bytes but the return value is the full length", () => {
    const [r, line] = printk("%600d%600d", 1, 2);
    assert.equal(r, 1200);
    assert.equal(line!.length, 1023);
  });

  test("%c of NUL ends the trace text (the event prints a C string)", () => {
    const [r, line] = printk("ab%cde", 0);
    assert.equal(r, 5);
    assert.equal(line, "ab");
  });

  test("records carry task, CPU and time", () => {
    const s = setup({ pid: 42, comm: "bash", cpu: 2, timeNs: 3_000_123_000n });
    printkIn(s, "x\n");
    assert.deepEqual(s.kernel.traceLines(), ["x"]);
    assert.equal(s.kernel.trace[0]!.pid, 42);
    assert.match(s.kernel.tracePipe(), /bash-42 \[002\] \.{5}\s+3\.000123: bpf_trace_printk: x\n\n$/);
  });
});

describe("formats read again or not", () => {
  test("a format rewritten in place in writable memory prints as rewritten", () => {
    const s = setup();
    assert.deepEqual(printkIn(s, "one %d\n", 1), [6, "one 1\n"]);
    assert.deepEqual(printkIn(s, "two %d\n", 2), [6, "two 2\n"]);
    assert.deepEqual(printkIn(s, "one %d\n", 3), [6, "one 3\n"]);
  });

  test("a format in a frozen .rodata prints the same on every call", () => {
    const s = setup();
    const fmt = cstr("pid %d of %s\n");
    const rodata = s.maps.array({ name: ".rodata", valueSize: 32, maxEntries: 1, readonlyProg: true, initial: fmt });
    const name = s.put(64, cstr("rm"));
    const call = (pid: number) => {
      const r = s.callS(Helper.trace_printk, rodata.valueAddress(0)!, fmt.length, pid, name);
      return [r, s.kernel.trace.at(-1)!.text];
    };
    assert.deepEqual(call(1), [12, "pid 1 of rm\n"]);
    rodata.freeze();
    for (const pid of [2, 3, 4]) assert.deepEqual(call(pid), [12, `pid ${pid} of rm\n`]);
  });

  test("a frozen format's address, unmapped and mapped again with another format, prints the new one", () => {
    const s = setup();
    const memory = s.kernel.memory;
    const frozen = (text: string) => {
      const region = memory.map("map_value", cstr(text), { writable: false, name: ".rodata" });
      region.frozen = true;
      return region;
    };
    const call = (address: bigint, pid: number) => [s.callS(Helper.trace_printk, address, 8, pid), s.kernel.trace.at(-1)!.text];
    const first = frozen("one %d\n");
    for (const pid of [1, 2]) assert.deepEqual(call(first.address(0), pid), [6, `one ${pid}\n`]);
    memory.unmap(first);
    const second = frozen("two %d\n");
    assert.equal(second.address(0), first.address(0), "the address is reused");
    for (const pid of [3, 4]) assert.deepEqual(call(second.address(0), pid), [6, `two ${pid}\n`]);
  });
});

describe("format errors: -EINVAL and no output", () => {
  const bad: Array<[string, Arg[]]> = [
    ["%d %d %d %d", [1, 2, 3]],
    ["%.3d", [1]],
    ["%#x", [1]],
    ["%hd", [1]],
    ["%zu", [1]],
    ["%lc", [1]],
    ["%ls", [1]],
    ["%q", [1]],
    ["%sx", [0]],
    ["%pksx", [0]],
    ["%pa", [0]],
    ["%pk", [0]],
    ["%pI5", [0]],
    ["%pe", [0]],
    ["trailing %", []],
    ["%-", [1]],
    ["bell\x07", []],
    ["%\u00e9", [1]],
  ];
  for (const [fmt, args] of bad) {
    test(JSON.stringify(fmt), () => {
      const [r, line] = printk(fmt, ...args);
      assert.equal(r, -Errno.EINVAL);
      assert.equal(line, undefined);
    });
  }

  test("format without a NUL inside fmt_size", () => {
    const s = setup();
    const f = new TextEncoder().encode("abc");
    assert.equal(s.callS(Helper.trace_printk, s.put(0, f), 3), -Errno.EINVAL);
    assert.equal(s.kernel.trace.length, 0);
  });

  test("fmt_size shorter than the string stops at fmt_size", () => {
    const s = setup();
    const f = cstr("ab\0cd");
    assert.equal(s.callS(Helper.trace_printk, s.put(0, f), f.length), 2);
    assert.equal(s.kernel.traceLines()[0], "ab");
  });
});

describe("trace_vprintk", () => {
  test("up to 12 arguments from a u64 array", () => {
    const s = setup();
    const fmt = Array.from({ length: 12 }, () => "%d").join(",");
    const [r, line] = vprintk(s, fmt, Array.from({ length: 12 }, (_, i) => i));
    assert.equal(line, "0,1,2,3,4,5,6,7,8,9,10,11");
    assert.equal(r, line!.length);
    assert.equal(vprintk(s, "%d%d", [1])[0], -Errno.EINVAL, "more conversions than arguments");
    assert.equal(vprintk(s, "%d", [1, 2])[1], "1", "extra arguments are fine");
    assert.equal(vprintk(s, "none", [])[1], "none");
  });

  test("data_len rules", () => {
    const s = setup();
    const f = s.put(0, cstr("%d"));
    const data = s.put(256, new Uint8Array(13 * 8));
    assert.equal(s.callS(Helper.trace_vprintk, f, 3, data, 12), -Errno.EINVAL);
    assert.equal(s.callS(Helper.trace_vprintk, f, 3, data, 13 * 8), -Errno.EINVAL);
    assert.equal(s.callS(Helper.trace_vprintk, f, 3, 0, 8), -Errno.EINVAL);
    assert.equal(s.kernel.trace.length, 0);
  });

  test("strings share a 512-byte argument buffer: cut, then -ENOSPC", () => {
    const s = setup();
    const long = s.kernel.kernelString("x".repeat(100));
    const fmt = Array.from({ length: 6 }, () => "%s").join("|");
    const [r, line] = vprintk(s, fmt, new Array(6).fill(long));
    assert.ok(r > 0);
    assert.deepEqual(line!.split("|").map((p) => p.length), [100, 100, 100, 100, 100, 6]);
    const fmt7 = Array.from({ length: 7 }, () => "%s").join("|");
    assert.equal(vprintk(s, fmt7, new Array(7).fill(long))[0], -Errno.ENOSPC);
  });
});

describe("bpf_snprintf", () => {
  test("writes a terminated string, returns length + 1, cuts to str_size", () => {
    const s = setup();
    const fmt = s.kernel.kernelRegion(cString("pid=%d comm=%s"), ".rodata", false).address(0);
    const comm = s.kernel.kernelString("sh");
    const data = s.put(256, new Uint8Array([...u64(42), ...u64(comm)]));
    const out = s.stack.address(0);
    s.stack.bytes.fill(0xff, 0, 64);
    assert.equal(s.callS(Helper.snprintf, out, 64, fmt, data, 16), 15);
    assert.equal(new TextDecoder().decode(s.stack.bytes.subarray(0, 15)), "pid=42 comm=sh\0");
    s.stack.bytes.fill(0xff, 0, 64);
    assert.equal(s.callS(Helper.snprintf, out, 5, fmt, data, 16), 15);
    assert.deepEqual([...s.stack.bytes.subarray(0, 6)], [112, 105, 100, 61, 0, 0xff]);
    assert.equal(s.callS(Helper.snprintf, out, 0, fmt, data, 16), 15);
    assert.equal(s.callS(Helper.snprintf, out, 64, fmt, data, 12), -Errno.EINVAL);
    assert.equal(s.callS(Helper.snprintf, out, 64, fmt, data, 8), -Errno.EINVAL, "two conversions, one argument");
  });
});

function cString(str: string): Uint8Array {
  return cstr(str);
}
