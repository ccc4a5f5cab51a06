// Telling an object's bpf_printk lines from other programs' (runtime/loader/printk-formats.ts): formats as message
// patterns, the formats found in tsbpf's and clang's objects, no verdict for a format built at run time, and, in
// the kernel, two objects printing for the same rm each recognising only their own lines.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { readBpfObject } from "../../compiler/elf/read.js";
import { formatPattern, printkFormats, printkMatcher, refusedFormats } from "../../runtime/loader/printk-formats.js";
import { Session, linkProgram, openObject, type ObjectSpec } from "../../runtime/loader/index.js";
import { openSys } from "../../runtime/sys/index.js";
import { compileC, fixture, needsClang, needsKernel, startCli } from "./support.js";
import { tracepointFormat } from "../support/fixture-kernel.js";

/** The functions a program is linked with: itself, then what it calls or takes the address of. */
const linkedFunctions = (spec: ObjectSpec, name: string) => linkProgram(spec, spec.programs.find((p) => p.name === name)!).functions.map((f) => f.source);

/** A program whose printk calls sit in a static function of .text, one that function calls (no relocation) and a bpf_loop callback. */
const NESTED = `#include "loader.h"
static long (*loop)(__u32, void *, void *, __u64) = (void *)181;
static __noinline int inner(int x)
{
	bpf_printk("inner %d", x);
	return x;
}
static __noinline int middle(int x)
{
	bpf_printk("middle %d", x);
	return inner(x + 1);
}
static int looped(__u32 i, void *ctx)
{
	bpf_printk("looped %d", i);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_getppid")
int outer(void *ctx)
{
	bpf_printk("outer %d", 0);
	loop(1, looped, 0, 0);
	return middle(1);
}
SEC("tracepoint/syscalls/sys_enter_getppid")
int other(void *ctx)
{
	bpf_printk("other");
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

describe("bpf_printk formats", () => {
  it("a format matches exactly the messages it can print: conversions as any text, %% as %, literal text as itself", () => {
    const cases: [string, string[], string[]][] = [
      ["pid=%d name=%s", ["pid=12 name=/tmp/a b", "pid=-1 name="], ["pid=12 nam", "xpid=1 name=a"]],
      ["%-8s|%5d%%", ["rm      |   12%"], ["rm|12"]],
      ["from %pI4:%u (%llx)", ["from 10.0.0.1:80 (ff)"], ["from 10.0.0.1:80"]],
      ["a.b*c?\n", ["a.b*c?"], ["aXb*c?", "a.b*c?d"]],
      ["first %d\nsecond", ["first 1"], ["second"]],
    ];
    for (const [format, yes, no] of cases) {
      const p = formatPattern(format);
      for (const m of yes) assert.ok(p.test(m), `${JSON.stringify(format)} should match ${JSON.stringify(m)}`);
      for (const m of no) assert.ok(!p.test(m), `${JSON.stringify(format)} should not match ${JSON.stringify(m)}`);
    }
  });

  it("finds the formats of a tsbpf probe's printk calls", () => {
    const r = compile({ fileName: "unlink-tracepoint.ts", text: readFileSync("examples/unlink-tracepoint.ts", "utf8") }, { tracepointFormat });
    assert.deepEqual(r.diagnostics, []);
    const object = readBpfObject(r.object);
    assert.deepEqual(printkFormats(object), ["unlinkat by %s pid = %llu, dfd = %d, flags = %d"]);
    const ours = printkMatcher(object)!;
    assert.equal(ours("unlinkat by rm pid = 12, dfd = -100, flags = 0"), true);
    assert.equal(ours("tsbpf-tp pid=1 magic=7e57 name=/x"), false);
  });

  it("counts only the programs loaded (tsbpf load --program) and the functions they call", needsClang, () => {
    const quiet = compile({ fileName: "two.ts", text: `import { tracepoint, printk } from "tsbpf";
export const license = "GPL";
export const loud = tracepoint("syscalls", "sys_enter_unlinkat", () => { printk(\`loud\`); });
export const quiet = tracepoint("syscalls", "sys_enter_openat", () => {});
` }, { tracepointFormat });
    assert.deepEqual(quiet.diagnostics, []);
    const two = readBpfObject(quiet.object);
    const program = (object: typeof two, name: string) => object.programs.find((p) => p.name === name)!;
    assert.deepEqual(printkFormats(two), ["loud"]);
    assert.deepEqual(printkFormats(two, [program(two, "quiet")]), []);
    assert.deepEqual(printkFormats(two, [program(two, "loud")]), ["loud"]);
    // A format in a function the program calls (a BPF-to-BPF call) counts; one in a function it does not, not.
    const calls = openObject(readFileSync(compileC(
      "printk-calls",
      `#include "loader.h"
static __noinline int shout(int x)
{
	bpf_printk("shout %d", x);
	return 0;
}
SEC("tracepoint/syscalls/sys_enter_unlinkat")
int caller(void *ctx)
{
	return shout(1);
}
SEC("tracepoint/syscalls/sys_enter_openat")
int silent(void *ctx)
{
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`,
    )));
    // The functions each program was linked with (relocate.ts), as tsbpf run passes those of the loaded programs.
    assert.deepEqual(printkFormats(calls.raw, linkedFunctions(calls, "caller")), ["shout %d"]);
    assert.deepEqual(printkFormats(calls.raw, linkedFunctions(calls, "silent")), []);
  });

  it("counts the formats of functions reached by calls without relocations (.text to .text) and of callbacks", needsClang, () => {
    const spec = openObject(readFileSync(compileC("printk-nested", NESTED)));
    assert.deepEqual(printkFormats(spec.raw, linkedFunctions(spec, "outer"))?.sort(), ["inner %d", "looped %d", "middle %d", "outer %d"]);
    assert.deepEqual(printkFormats(spec.raw, linkedFunctions(spec, "other")), ["other"]);
  });

  it("finds clang's bpf_printk formats in .rodata; a format built on the stack gives no verdict", needsClang, () => {
    assert.deepEqual(printkFormats(readBpfObject(fixture("tracepoint"))), ["tsbpf-tp pid=%d magic=%x name=%s"]);
    const onStack = compileC(
      "printk-stack",
      `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_unlinkat")
int f(void *ctx)
{
	char fmt[] = "pid %d";
	bpf_trace_printk(fmt, sizeof(fmt), (int)(bpf_get_current_pid_tgid() >> 32));
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const object = readBpfObject(readFileSync(onStack));
    assert.equal(printkFormats(object), undefined);
    assert.equal(printkMatcher(object), undefined);
  });

  it("tsbpf load shows the lines of nested functions and callbacks beside the program's own", needsKernel, async () => {
    const run = startCli(["load", compileC("printk-nested", NESTED), "--program", "outer", "--json", "--duration", "8"]);
    const lines = () => run.jsonLines().flatMap((l) => (typeof l.message === "string" ? [l.message] : []));
    const all = ["outer 0", "middle 1", "inner 2", "looped 0"];
    try {
      await run.until(() => run.stderr().includes("attached outer"), "outer attached");
      await run.until(() => (spawnSync("/usr/bin/python3", ["-c", "import os; os.getppid()"]), all.every((m) => lines().includes(m))), `every line of ${JSON.stringify(all)} shown (shown: ${JSON.stringify(lines())})`);
    } finally {
      run.child.kill("SIGINT");
      await run.exited;
    }
  });

  it("in the kernel, two objects printing for the same rm each recognise only their own lines", needsKernel, async () => {
    const sys = openSys();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-printk-"));
    const session = new Session(sys);
    try {
      const tp = session.load(fixture("tracepoint"), { name: "tracepoint" });
      const up = session.load(fixture("uprobe"), { name: "uprobe" });
      const pipe = session.tracePipe();
      tp.attachAll();
      up.attachAll();
      const path = join(dir, "victim");
      writeFileSync(path, "x");
      const pid = spawnSync("rm", [path]).pid!;
      const isTp = printkMatcher(tp.spec.raw)!;
      const isUp = printkMatcher(up.spec.raw)!;
      // Every instance gets every program's lines: a probe another test runs meanwhile may print for this rm too, and
      // neither object may claim its line.
      const seen: string[] = [];
      const mine = () => seen.filter((m) => m.startsWith("tsbpf-"));
      for (const deadline = Date.now() + 5000; mine().length < 3 && Date.now() < deadline; ) {
        const line = await pipe.waitFor((l) => l.pid === pid, deadline - Date.now());
        if (line) seen.push(line.message);
      }
      assert.equal(mine().length, 3, `the tracepoint's, the uprobe's and the uretprobe's lines: ${JSON.stringify(seen)}`);
      assert.deepEqual(
        seen.map((m) => [isTp(m), isUp(m)]),
        seen.map((m) => (m.startsWith("tsbpf-tp") ? [true, false] : m.startsWith("tsbpf-u") ? [false, true] : [false, false])),
        JSON.stringify(seen),
      );
    } finally {
      await session.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("formats the kernel refuses at run time", () => {
  it("are named with the conversion they stop at; supported ones are not", () => {
    assert.deepEqual(refusedFormats(["c=%c pct=%% hex=%#x pad=%-5d", "n=%5.2d", "short %hd", "pid %d comm %s\n", "%-08lld %+d % d %pS %pI4 %%"]), [
      { format: "c=%c pct=%% hex=%#x pad=%-5d", conversion: "%#x" },
      { format: "n=%5.2d", conversion: "%5.2d" },
      { format: "short %hd", conversion: "%hd" },
    ]);
    assert.deepEqual(refusedFormats(["bell\x07 %d"]), [{ format: "bell\x07 %d", conversion: undefined }]);
  });

  it("tsbpf load warns of one, and the kernel indeed prints nothing for it", needsKernel, async () => {
    const path = compileC(
      "printk-refused",
      `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_getppid") int refused(void *ctx) { bpf_printk("refused %#x", 1); bpf_printk("printed %x", 2); return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const { stdout, stderr, exited } = startCli(["load", path, "-c", "/usr/bin/python3 -c 'import os; os.getppid()'"]);
    assert.equal(await exited, 0, stderr());
    assert.match(stderr(), /warning: the bpf_printk format "refused %#x" has %#x, which bpf_trace_printk does not support/);
    assert.doesNotMatch(stderr(), /printed %x/);
    assert.match(stdout(), /printed 2/);
    assert.doesNotMatch(stdout(), /refused/);
  });
});
