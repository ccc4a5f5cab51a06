// libbpf section names in the running kernel: sections whose target libbpf cannot attach from the name alone load
// and stay unattached with a note, and never keep the object's other programs from loading.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileC, needsKernel, startCli } from "./support.js";

const LICENSE = `char LICENSE[] SEC("license") = "GPL";\n`;

describe("section names in the running kernel", needsKernel, () => {
  it("uprobes naming no binary, one-part tracepoints and malformed usdt sections load unattached, saying how to attach them", async () => {
    const path = compileC(
      "no-target",
      `#include "loader.h"
SEC("uretprobe/readline") int printret(void *ctx) { return 0; }
SEC("tracepoint/sched_switch") int switched(void *ctx) { return 0; }
SEC("usdt/foo:bar") int probe(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_getppid") int other(void *ctx) { return 0; }
${LICENSE}`,
    );
    const whole = startCli(["load", path, "--duration", "0.3"]);
    const picked = startCli(["load", path, "--program", "other", "--duration", "0.3"]);
    assert.equal(await whole.exited, 0, whole.stderr());
    assert.match(whole.stderr(), /attached other to tracepoint syscalls:sys_enter_getppid/);
    assert.match(whole.stderr(), /loaded printret without attaching it: the section names no binary .*as in SEC\("uretprobe\/\/bin\/bash:readline"\)/);
    assert.match(whole.stderr(), /loaded switched without attaching it: section tracepoint\/sched_switch is not tracepoint\/GROUP\/NAME/);
    assert.match(whole.stderr(), /loaded probe without attaching it: section usdt\/foo:bar is not usdt\/BINARY:PROVIDER:NAME/);
    assert.equal(await picked.exited, 0, picked.stderr());
    assert.match(picked.stderr(), /attached other to tracepoint syscalls:sys_enter_getppid/);
    assert.doesNotMatch(picked.stderr(), /printret|switched|loaded probe/);
  });

  it("libbpf's xdp.frags, session and lirc sections are known; an unknown section and struct_ops leave only their program out", async () => {
    const path = compileC(
      "more-libbpf-sections",
      `#include "loader.h"
SEC("xdp.frags") int frags(void *ctx) { return 2; }
SEC("xdp.frags/devmap") int frags_devmap(void *ctx) { return 2; }
SEC("xdp.frags/cpumap") int frags_cpumap(void *ctx) { return 2; }
SEC("kprobe.session/do_unlinkat") int kses(void *ctx) { return 0; }
SEC("uprobe.session/libc.so.6:malloc") int uses(void *ctx) { return 0; }
SEC("uprobe.session.s/libc.so.6:malloc") int uses_s(void *ctx) { return 0; }
SEC("probe/foo") int unknown(void *ctx) { return 0; }
SEC("struct_ops/init") int ops(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_getppid") int other(void *ctx) { return 0; }
${LICENSE}`,
    );
    const run = startCli(["load", path, "--duration", "0.3"]);
    const named = startCli(["load", path, "--program", "unknown"]);
    assert.equal(await run.exited, 0, run.stderr());
    const err = run.stderr();
    assert.match(err, /attached other to tracepoint syscalls:sys_enter_getppid/);
    for (const p of ["frags", "frags_devmap", "frags_cpumap"]) assert.match(err, new RegExp(`loaded ${p} without attaching it: these programs attach to a network interface`));
    assert.match(err, /loaded kses without attaching it: kprobe\.session programs attach through kprobe_multi links/);
    assert.match(err, /loaded uses_s without attaching it: uprobe\.session programs attach through session uprobe_multi links/);
    assert.match(err, /warning: program unknown \(section probe\/foo\) is not loaded: section probe\/foo names no program type libbpf knows; use a libbpf section name such as /);
    assert.match(err, /warning: program ops \(section struct_ops\/init\) is not loaded: struct_ops programs load with the struct_ops map/);
    // Only a "?" section marks a program optional.
    assert.doesNotMatch(err, /marks it optional/);
    assert.equal(await named.exited, 2, named.stderr());
    assert.match(named.stderr(), /program unknown \(section probe\/foo\) cannot be loaded: section probe\/foo names no program type libbpf knows/);
  });

  it("a tracepoint program that reads past the tracepoint's record is refused at attach, saying how long the record is", async () => {
    // getppid's record ends with its 4-byte __syscall_nr at 8: dfd, at 16, is another syscall's argument.
    const path = compileC(
      "past-record",
      `#include "loader.h"
SEC("tracepoint/syscalls/sys_enter_getppid") int past(struct sys_enter_unlinkat *ctx) { return ctx->dfd; }
${LICENSE}`,
    );
    const run = startCli(["load", path, "--duration", "0.3"]);
    assert.equal(await run.exited, 3, run.stderr());
    assert.match(run.stderr(), /cannot attach program past to tracepoint syscalls:sys_enter_getppid: the program reads its context past the end of the tracepoint's record, which is 12 bytes \(its last field is int __syscall_nr at offset 8, 4 bytes; \S+\/events\/syscalls\/sys_enter_getppid\/format lists them\)/);
  });
});
