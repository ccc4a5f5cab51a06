// The object model without a kernel: section names to program types and attach targets, map definitions
// (legacy `maps`, BTF `.maps`, global data) and their kernel names, read from clang-19 fixtures.

import { after, describe, it } from "node:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { endianness, tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { AttachType, FakeSys, MapFlag, MapType, ProgFlag, ProgType } from "../../runtime/sys/index.js";
import { ObjectError, TracePipe, classifySection, kprobeProblem, dataMapName, kernelName, objectNameOf, openObject, parseObject, parseTraceLine } from "../../runtime/loader/index.js";
import { compileC, fixture, needsClang } from "./support.js";
import { ElfWriter } from "../../compiler/elf/index.js";
import { SHF, swapInsnBytes } from "../../compiler/elf/types.js";
import { encode, exit, mov64Imm } from "../../compiler/isa/index.js";

describe("section names", () => {
  const cases: [string, number, unknown, number?][] = [
    ["tracepoint/syscalls/sys_enter_unlinkat", ProgType.TRACEPOINT, { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" }],
    ["tp/sched/sched_switch", ProgType.TRACEPOINT, { kind: "tracepoint", group: "sched", name: "sched_switch" }],
    ["kprobe/do_unlinkat", ProgType.KPROBE, { kind: "kprobe", func: "do_unlinkat", offset: 0, retprobe: false }],
    ["kretprobe/do_unlinkat", ProgType.KPROBE, { kind: "kprobe", func: "do_unlinkat", offset: 0, retprobe: true }],
    ["kprobe/tcp_v4_connect+0x10", ProgType.KPROBE, { kind: "kprobe", func: "tcp_v4_connect", offset: 16, retprobe: false }],
    ["uprobe/libc.so.6:unlinkat", ProgType.KPROBE, { kind: "uprobe", binary: "libc.so.6", func: "unlinkat", offset: 0, retprobe: false }],
    ["uretprobe//usr/bin/bash:readline", ProgType.KPROBE, { kind: "uprobe", binary: "/usr/bin/bash", func: "readline", offset: 0, retprobe: true }],
    ["uprobe//bin/true:0x1234", ProgType.KPROBE, { kind: "uprobe", binary: "/bin/true", func: undefined, offset: 0x1234, retprobe: false }],
    ["uprobe/libc.so.6:malloc+8", ProgType.KPROBE, { kind: "uprobe", binary: "libc.so.6", func: "malloc", offset: 8, retprobe: false }],
    // A C++ function's name keeps its '::' (the binary ends at the first lone ':'), an operator its '+'.
    ["uprobe//opt/app:app::W::leaf", ProgType.KPROBE, { kind: "uprobe", binary: "/opt/app", func: "app::W::leaf", offset: 0, retprobe: false }],
    ["uretprobe//opt/app:app::over(int)+4", ProgType.KPROBE, { kind: "uprobe", binary: "/opt/app", func: "app::over(int)", offset: 4, retprobe: true }],
    ["uprobe//opt/app:app::V::operator+(app::V const&)", ProgType.KPROBE, { kind: "uprobe", binary: "/opt/app", func: "app::V::operator+(app::V const&)", offset: 0, retprobe: false }],
    ["raw_tp/sys_enter", ProgType.RAW_TRACEPOINT, { kind: "raw_tracepoint", name: "sys_enter" }],
    ["raw_tracepoint/sched_switch", ProgType.RAW_TRACEPOINT, { kind: "raw_tracepoint", name: "sched_switch" }],
    ["tp_btf/sched_switch", ProgType.TRACING, { kind: "btf", hook: "tp_btf", name: "sched_switch" }],
    ["fentry/do_unlinkat", ProgType.TRACING, { kind: "btf", hook: "fentry", name: "do_unlinkat" }],
    ["fexit.s/do_unlinkat", ProgType.TRACING, { kind: "btf", hook: "fexit", name: "do_unlinkat" }],
    ["lsm/file_open", ProgType.LSM, { kind: "btf", hook: "lsm", name: "file_open" }],
    ["uprobe.multi/libc.so.6:str*", ProgType.KPROBE, { kind: "uprobe", binary: "libc.so.6", func: "str*", offset: 0, retprobe: false }],
    ["uretprobe.multi//usr/bin/bash:read*", ProgType.KPROBE, { kind: "uprobe", binary: "/usr/bin/bash", func: "read*", offset: 0, retprobe: true }],
    ["raw_tp.w/sys_enter", ProgType.RAW_TRACEPOINT_WRITABLE, { kind: "raw_tracepoint", name: "sys_enter" }],
    ["iter/task", ProgType.TRACING, { kind: "btf", hook: "iter", name: "task" }],
    ["tp.s/syscalls/sys_enter_openat", ProgType.TRACEPOINT, { kind: "tracepoint", group: "syscalls", name: "sys_enter_openat" }],
    ["tracepoint.s/syscalls/sys_enter_openat", ProgType.TRACEPOINT, { kind: "tracepoint", group: "syscalls", name: "sys_enter_openat" }],
    ["raw_tp.s/sys_enter", ProgType.RAW_TRACEPOINT, { kind: "raw_tracepoint", name: "sys_enter" }],
    ["raw_tracepoint.s/sys_enter", ProgType.RAW_TRACEPOINT, { kind: "raw_tracepoint", name: "sys_enter" }],
    ["tp_btf.s/sys_enter", ProgType.TRACING, { kind: "btf", hook: "tp_btf", name: "sys_enter" }],
    ["fmod_ret.s/do_unlinkat", ProgType.TRACING, { kind: "btf", hook: "fmod_ret", name: "do_unlinkat" }],
    ["lsm_cgroup/file_open", ProgType.LSM, { kind: "btf", hook: "lsm_cgroup", name: "file_open" }],
  ];
  for (const [section, type, attach] of cases) {
    it(section, () => {
      const c = classifySection(section);
      assert.equal(c.type, type);
      assert.deepEqual(c.attach, attach);
    });
  }

  it("ksyscall names the architecture's syscall entry", () => {
    const c = classifySection("ksyscall/unlinkat");
    assert.equal(c.type, ProgType.KPROBE);
    assert.equal(c.attach.kind === "kprobe" && c.attach.func, process.arch === "arm64" ? "__arm64_sys_unlinkat" : "__x64_sys_unlinkat");
  });

  it("sections without a target load but attach by hand", () => {
    for (const s of ["socket", "xdp", "kprobe", "uprobe", "tc", "perf_event"]) assert.equal(classifySection(s).attach.kind, "manual", s);
    assert.equal(classifySection("xdp").expectedAttachType, AttachType.XDP);
    assert.equal(classifySection("uprobe.s/libc.so.6:free").flags, ProgFlag.SLEEPABLE);
    assert.equal(classifySection("fentry/do_unlinkat").expectedAttachType, AttachType.TRACE_FENTRY);
    assert.deepEqual([classifySection("cgroup/connect4").type, classifySection("cgroup/connect4").expectedAttachType], [ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT]);
    assert.equal(classifySection("tc/ingress").expectedAttachType, AttachType.TCX_INGRESS);
    assert.equal(classifySection("tc").expectedAttachType, undefined);
    assert.equal(classifySection("sk_skb").type, ProgType.SK_SKB);
    assert.equal(classifySection("sk_skb/stream_parser").expectedAttachType, AttachType.SK_SKB_STREAM_PARSER);
  });

  it("uprobe.multi loads for uprobe_multi links; struct_ops and freplace are known but not loaded, saying why", () => {
    assert.equal(classifySection("uprobe.multi.s/libc.so.6:free").expectedAttachType, AttachType.TRACE_UPROBE_MULTI);
    assert.equal(classifySection("kprobe.multi/vfs_*").expectedAttachType, AttachType.TRACE_KPROBE_MULTI);
    assert.equal(classifySection("iter.s/task").expectedAttachType, AttachType.TRACE_ITER);
    assert.match(classifySection("struct_ops/dctcp_init").unloadable ?? "", /^struct_ops programs load with the struct_ops map/);
    assert.match(classifySection("freplace/handler").unloadable ?? "", /^freplace programs load against a function of another loaded program/);
    // A BTF hook's program names its hook, or the kernel refuses it (libbpf too): left out, saying how to name one.
    assert.equal(classifySection("tp_btf").unloadable, `tp_btf programs are loaded for their tracepoint's BTF type, and the section names none; name one, as in SEC("tp_btf/sched_switch")`);
    assert.equal(classifySection("fexit.s").unloadable, `fexit programs are loaded for their kernel function's BTF type, and the section names none; name one, as in SEC("fexit/do_unlinkat")`);
    assert.equal(classifySection("iter").unloadable, `iter programs are loaded for their iterator's BTF type, and the section names none; name one, as in SEC("iter/task")`);
    assert.equal(classifySection("tp_btf/sched_switch").unloadable, undefined);
  });

  it("libbpf's sleepable, xdp.frags, session, lsm_cgroup and lirc sections get its types, attach types and flags", () => {
    const of = (s: string) => {
      const c = classifySection(s);
      return [c.type, c.expectedAttachType, c.flags];
    };
    for (const s of ["tp.s/a/b", "tracepoint.s/a/b", "raw_tp.s/a", "raw_tracepoint.s/a"]) assert.equal(of(s)[2], ProgFlag.SLEEPABLE, s);
    assert.deepEqual(of("tp_btf.s/sys_enter"), [ProgType.TRACING, AttachType.TRACE_RAW_TP, ProgFlag.SLEEPABLE]);
    assert.deepEqual(of("fmod_ret.s/f"), [ProgType.TRACING, AttachType.MODIFY_RETURN, ProgFlag.SLEEPABLE]);
    assert.deepEqual(of("xdp.frags"), [ProgType.XDP, AttachType.XDP, ProgFlag.XDP_HAS_FRAGS]);
    assert.deepEqual(of("xdp.frags/devmap"), [ProgType.XDP, AttachType.XDP_DEVMAP, ProgFlag.XDP_HAS_FRAGS]);
    assert.deepEqual(of("xdp.frags/cpumap"), [ProgType.XDP, AttachType.XDP_CPUMAP, ProgFlag.XDP_HAS_FRAGS]);
    assert.deepEqual(of("kprobe.session/f"), [ProgType.KPROBE, AttachType.TRACE_KPROBE_SESSION, 0]);
    assert.deepEqual(of("uprobe.session/libc.so.6:f"), [ProgType.KPROBE, AttachType.TRACE_UPROBE_SESSION, 0]);
    assert.deepEqual(of("uprobe.session.s/libc.so.6:f"), [ProgType.KPROBE, AttachType.TRACE_UPROBE_SESSION, ProgFlag.SLEEPABLE]);
    assert.deepEqual(of("lsm_cgroup/file_open"), [ProgType.LSM, AttachType.LSM_CGROUP, 0]);
    assert.deepEqual(of("lirc_mode2"), [ProgType.LIRC_MODE2, AttachType.LIRC_MODE2, 0]);
  });

  it("unknown names are ObjectErrors", () => {
    assert.throws(() => classifySection("probe/foo"), (e: unknown) => e instanceof ObjectError && /names no program type libbpf knows/.test(e.message));
    assert.throws(() => classifySection("__proto__"), ObjectError);
  });

  it("targets libbpf cannot attach from the section load, to be attached by hand, saying how to name one", () => {
    const why = (s: string) => {
      const a = classifySection(s).attach;
      return a.kind === "manual" ? a.why : `attached as ${a.kind}`;
    };
    // bcc's bashreadline: its user space finds the binary and attaches the program itself.
    assert.equal(why("uretprobe/readline"), 'the section names no binary ("readline" is not BINARY:FUNCTION[+OFFSET] or BINARY:OFFSET); to attach it, name the binary in the section, as in SEC("uretprobe//bin/bash:readline")');
    assert.match(why("uprobe.s/malloc"), /as in SEC\("uprobe\.s\/\/bin\/bash:malloc"\)$/);
    assert.equal(why("tracepoint/sched_switch"), "section tracepoint/sched_switch is not tracepoint/GROUP/NAME; to attach it, name the group too, as in SEC(\"tracepoint/GROUP/sched_switch\") (tsbpf list 'tracepoint:*:sched_switch' finds it)");
    assert.equal(why("usdt/foo:bar"), "section usdt/foo:bar is not usdt/BINARY:PROVIDER:NAME, so it cannot be attached from its section");
    assert.match(why("kprobe/a+b"), /^kprobe target "a\+b" is not FUNCTION or FUNCTION\+OFFSET/);
  });
});

describe("map and object names", () => {
  it("data maps are named as libbpf names them", () => {
    assert.equal(dataMapName("tracepoint", ".rodata"), "tracepoi.rodata");
    assert.equal(dataMapName("my_object_name", ".bss"), "my_objec.bss");
    assert.equal(dataMapName("my_object_name", ".kconfig"), "my_obje.kconfig");
    assert.equal(dataMapName("x", ".data"), "x.data");
    assert.equal(dataMapName("obj", ".rodata.str1.1"), ".rodata.str1.1");
    assert.equal(dataMapName("obj", ".rodata.abracadabra"), ".rodata.abracad");
  });
  it("kernel names keep 15 characters the kernel accepts", () => {
    assert.equal(kernelName("a_very_long_map_name_indeed"), "a_very_long_map");
    assert.equal(kernelName("my-map"), "my_map");
  });
  it("object names drop .bpf.o", () => {
    assert.equal(objectNameOf("/tmp/x/unlink.bpf.o"), "unlink");
    assert.equal(objectNameOf("minimal.o"), "minimal");
  });
});

describe("clang-19 fixtures", needsClang, () => {
  it("a static function in a program's section is refused as libbpf refuses it, not left out unseen", () => {
    const source = `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_getppid") static int hidden_away(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_getppid") int shown(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;
    assert.throws(
      () => parseObject(readFileSync(compileC("static-program", source)), { name: "static-program" }),
      (e: unknown) => e instanceof ObjectError && e.message === "program hidden_away (section tracepoint/syscalls/sys_enter_getppid) is static: libbpf loads only global functions as programs, and refuses an object with a static one; remove `static` from its definition",
    );
  });

  it("tracepoint: a legacy map and three global data maps", () => {
    const spec = parseObject(fixture("tracepoint"), { name: "tracepoint" });
    assert.equal(spec.license, "GPL");
    assert.deepEqual(
      spec.programs.map((p) => [p.name, p.type, p.attach]),
      [["on_unlinkat", ProgType.TRACEPOINT, { kind: "tracepoint", group: "syscalls", name: "sys_enter_unlinkat" }]],
    );
    const byName = new Map(spec.maps.map((m) => [m.name, m]));
    assert.deepEqual([...byName.keys()].sort(), [".bss", ".data", ".rodata", "unlink_counts"]);
    const counts = byName.get("unlink_counts")!;
    assert.deepEqual([counts.origin, counts.type, counts.keySize, counts.valueSize, counts.maxEntries, counts.flags], ["legacy", MapType.ARRAY, 4, 8, 1, 0]);
    const rodata = byName.get(".rodata")!;
    assert.equal(rodata.kernelName, "tracepoi.rodata");
    assert.equal(rodata.flags, MapFlag.RDONLY_PROG);
    assert.equal(rodata.freeze, true);
    const magic = rodata.variables.find((v) => v.name === "magic")!;
    assert.equal(new DataView(rodata.initial!.buffer, rodata.initial!.byteOffset).getUint32(magic.offset, true), 0x7e57);
    const bss = byName.get(".bss")!;
    assert.equal(bss.initial, undefined);
    assert.equal(bss.freeze, false);
    assert.deepEqual(bss.variables.map((v) => v.name), ["hits"]);
    assert.equal(byName.get(".data")!.initial![0], 1);
  });

  it("uprobe: a BTF-defined hash map read from .maps", () => {
    const spec = openObject(fixture("uprobe"), { name: "uprobe" });
    const m = spec.maps.find((x) => x.name === "calls_by_pid")!;
    assert.deepEqual([m.origin, m.type, m.keySize, m.valueSize, m.maxEntries], ["btf", MapType.HASH, 4, 8, 1024]);
    assert.deepEqual(spec.programs.map((p) => p.attach.kind === "uprobe" && p.attach.retprobe), [false, true]);
  });

  it('a "?" section keeps its program type and attach target but is not loaded by default', () => {
    const spec = parseObject(fixture("optional"), { name: "optional" });
    assert.deepEqual(
      spec.programs.map((p) => [p.name, p.type, p.attach.kind, p.autoload]),
      [
        ["always", ProgType.TRACEPOINT, "tracepoint", true],
        ["on_request", ProgType.TRACEPOINT, "tracepoint", false],
      ],
    );
  });

  it("BTF-defined maps without a BTF reader are refused with the reason", () => {
    assert.throws(() => parseObject(fixture("uprobe")), (e: unknown) => e instanceof ObjectError && /\.maps \(calls_by_pid\)/.test(e.message));
  });
});

describe("kprobe targets", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-kprobe-"));
  const kallsyms = join(dir, "kallsyms");
  const blacklist = join(dir, "blacklist");
  writeFileSync(
    kallsyms,
    ["ffffffff81000000 T do_unlinkat", "ffffffff81000100 t tcp_probe_helper.isra.0", "ffffffff81000200 t tcp_probe_helper.cold", "ffffffff81000300 t nmi_handle", "ffffffffc0000000 t mod_func\t[some_mod]", ""].join("\n"),
  );
  writeFileSync(blacklist, "0xffffffff81000300-0xffffffff81000380\tnmi_handle\n");
  const checks = { kallsyms, blacklist, inBtf: (f: string) => f === "inlined_helper" };
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a function kallsyms lists, module functions included, can be probed", () => {
    assert.equal(kprobeProblem("do_unlinkat", checks), undefined);
    assert.equal(kprobeProblem("mod_func", checks), undefined);
  });
  it("says which functions were inlined, renamed into specialised copies, blacklisted or never existed", () => {
    assert.equal(kprobeProblem("tcp_probe_helper", checks), "the running kernel has no function tcp_probe_helper, only the compiler's specialised copy tcp_probe_helper.isra.0: probe that instead");
    assert.match(kprobeProblem("inlined_helper", checks)!, /^inlined_helper was inlined into its callers when the running kernel was built/);
    assert.match(kprobeProblem("nmi_handle", checks)!, /^nmi_handle is on the kernel's kprobe blacklist/);
    assert.equal(kprobeProblem("no_such_function", checks), "the running kernel has no function no_such_function (not in /proc/kallsyms)");
  });
});

describe("trace_pipe lines", () => {
  it("parses task, pid, cpu, flags, timestamp and message", () => {
    const l = parseTraceLine("              rm-24991   [000] ...21  1827.196443: bpf_trace_printk: tsbpf-tp pid=24991 name=/tmp/x: y");
    assert.deepEqual(
      l && [l.task, l.pid, l.cpu, l.flags, l.timestamp, l.event, l.message],
      ["rm", 24991, 0, "...21", 1827.196443, "bpf_trace_printk", "tsbpf-tp pid=24991 name=/tmp/x: y"],
    );
  });
  it("keeps dashes and spaces in task names and reads lines without irq-info or with a tgid", () => {
    const a = parseTraceLine(" kworker/u8:1-my-task-77 [003] 55.000001: bpf_trace_printk: hi")!;
    assert.deepEqual([a.task, a.pid, a.cpu, a.flags, a.message], ["kworker/u8:1-my-task", 77, 3, undefined, "hi"]);
    const b = parseTraceLine("  Web Content-1234 (   1200) [001] d..2. 10.5: bpf_trace_printk: x")!;
    assert.deepEqual([b.task, b.pid, b.cpu, b.flags, b.message], ["Web Content", 1234, 1, "d..2.", "x"]);
  });
  it("leaves other lines alone", () => {
    assert.equal(parseTraceLine("CPU:1 [LOST 12 EVENTS]"), undefined);
  });
  it("a message with a newline of its own is one line, its rest joined on; a lost-events notice stays its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-trace-"));
    try {
      const path = join(dir, "trace_pipe");
      writeFileSync(path, ["rm-1 [000] ..... 1.000000: bpf_trace_printk: first", "second", "CPU:1 [LOST 3 EVENTS]", "rm-1 [000] ..... 2.000000: bpf_trace_printk: next", ""].join("\n"));
      const pipe = TracePipe.open({ path, sys: new FakeSys() });
      const seen: string[] = [];
      const lost: [number, number | undefined][] = [];
      await pipe.waitFor((l) => (seen.push(l.message), lost.push([l.cpu, l.lost]), l.message === "next"), 2000);
      await pipe.close();
      assert.deepEqual(seen, ["first\nsecond", "CPU:1 [LOST 3 EVENTS]", "next"]);
      assert.deepEqual(lost, [[0, undefined], [1, 3], [0, undefined]], "the notice's CPU and count");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("byte order", () => {
  it("an object of the other byte order than the machine's is refused, saying so, before anything loads", () => {
    const other = endianness() !== "LE";
    const w = new ElfWriter({ littleEndian: other });
    const code = encode([mov64Imm(0, 0), exit()]);
    w.addSection("socket", { flags: SHF.ALLOC | SHF.EXECINSTR, data: other ? code : swapInsnBytes(code), align: 8 });
    w.addSection("license", { flags: SHF.ALLOC | SHF.WRITE, data: new TextEncoder().encode("GPL\0"), align: 1 });
    w.addSymbol({ name: "zero", section: "socket", size: 16, type: "FUNC", bind: "GLOBAL" });
    assert.throws(() => parseObject(w.toBytes()), (e: unknown) => e instanceof ObjectError && /^the object is (big|little)-endian and this machine is (little|big)-endian: compile it for this machine/.test(e.message));
  });
});
