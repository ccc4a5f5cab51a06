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
});
