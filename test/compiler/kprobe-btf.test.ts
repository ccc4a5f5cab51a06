// kprobe() and kretprobe() handlers typed from the kernel's BTF: parameters left unannotated take the types of the
// function's prototype (its FUNC in vmlinux BTF), so `kprobe("do_unlinkat", (dfd, name) => ... name.name ...)` needs
// neither annotations nor a "tsbpf/kernel" import and compiles to what the annotated probe does.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { compile } from "../../compiler/index.js";
import { simulate } from "../../runtime/test/index.js";

const UNTYPED = `import { kprobe, kretprobe, printk, pidTgid } from "tsbpf";
export const license = "Dual BSD/GPL";
export const do_unlinkat = kprobe("do_unlinkat", (dfd, name) => {
  const pid = pidTgid() >> 32;
  printk(\`KPROBE ENTRY pid = \${pid}, filename = \${name.name}\`);
  return 0;
});
export const do_unlinkat_exit = kretprobe("do_unlinkat", (ret) => {
  printk(\`KPROBE EXIT: pid = \${pidTgid() >> 32}, ret = \${ret}\`);
  return 0;
});
`;

const hasBtf = existsSync("/sys/kernel/btf/vmlinux") ? undefined : "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
const messages = (text: string): string[] => compile({ fileName: "k.ts", text }, { arch: "x86_64" }).diagnostics.map((d) => `${d.code}: ${d.message}`);
const file = (probe: string) => `import { kprobe, kretprobe, type u64, type Ptr } from "tsbpf";\nimport type { sock } from "tsbpf/kernel";\nexport const license = "GPL";\n${probe}\n`;

describe("kprobe() typed from BTF", { skip: hasBtf }, () => {
  it("compiles an unannotated do_unlinkat probe as the annotated example, in both backends; the return value is the prototype's int", () => {
    for (const backend of ["own", "llvm"] as const) {
      const untyped = compile({ fileName: "unlink.ts", text: UNTYPED }, { arch: "x86_64", backend });
      assert.deepEqual(untyped.diagnostics, [], backend);
      const annotated = compile("examples/unlink.ts", { arch: "x86_64", backend });
      assert.deepEqual(untyped.programs[0]!.insns, annotated.programs[0]!.insns, `${backend}: the entry probes`);
      // examples/unlink.ts declares `ret: i64` (printk's %lld); do_unlinkat returns int (%d).
      assert.match(new TextDecoder().decode(untyped.rodata), /ret = %d/, backend);
    }
  });

  it("runs in the simulator with the filename read through the typed pointer", async () => {
    const sim = await simulate({ fileName: "unlink.ts", text: UNTYPED }, { arch: "x86_64" });
    const name = sim.kernel.alloc("filename", { name: "/tmp/gone" });
    sim.kprobe("do_unlinkat", { args: [-100, name], pid: 42 });
    sim.kretprobe("do_unlinkat", { ret: 0xffff_fffe, pid: 42 });
    assert.deepEqual(sim.trace(), ["KPROBE ENTRY pid = 42, filename = /tmp/gone", "KPROBE EXIT: pid = 42, ret = -2"]);
  });

  it("types the parameters: members of the pointee's struct only", () => {
    assert.match(messages(file(`kprobe("do_unlinkat", (dfd, name) => name.nosuch);`)).join("\n"), /^TS2339: Property 'nosuch' does not exist on type 'Ptr<filename>'/);
  });

  it("takes annotations of other types as casts, as before", () => {
    assert.deepEqual(messages(file(`kprobe("do_unlinkat", (dfd: u64, name: Ptr<sock>) => name.__sk_common.skc_family);`)), []);
  });

  it("says how many arguments the function takes, that a void function returns nothing, and names a function BTF lacks and those spelled like it", () => {
    assert.deepEqual(messages(file(`kprobe("do_unlinkat", (dfd, name, extra) => 0);`)), ["TSBPF1009: do_unlinkat takes 2 arguments"]);
    assert.deepEqual(messages(file(`kretprobe("schedule", (ret) => 0);`)), ["TSBPF1009: schedule returns nothing (void): a kretprobe on it takes no parameter"]);
    assert.deepEqual(messages(file(`kprobe("tsbpf_no_such_function", (x) => x);`)), [
      "TSBPF1018: the kernel's BTF has no function tsbpf_no_such_function to give the type of parameter `x`: correct the name, or annotate the parameters (`x: u64`) to probe a function BTF does not describe",
    ]);
    // A misspelt function is reported at its name, with the functions spelled like it, and not at the parameter.
    const misspelt = compile({ fileName: "k.ts", text: file(`kprobe("do_unlinkatt", (dfd, name) => dfd);`) }, { arch: "x86_64" }).diagnostics;
    assert.equal(misspelt.length, 1);
    assert.match(misspelt[0]!.message, /^the kernel's BTF has no function do_unlinkatt \(did you mean do_unlinkat\b.*\?\) to give the type of parameter `dfd`: correct the name/);
    assert.equal(misspelt[0]!.column, 8);
    assert.deepEqual(messages(file(`const FN = "do_unlinkat";\nkprobe(FN, (dfd) => dfd);`)), [
      "TSBPF1018: parameter `dfd` needs a type (u8..i64 or Ptr<T>): neither an annotation nor the kernel's BTF gives `do_unlinkat`'s argument types (written as a string literal, its name would be looked up there)",
    ]);
  });
});
