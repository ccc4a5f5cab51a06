// Linux's limit on branches queued at once (BPF_COMPLEXITY_LIMIT_JMP_SEQ, 8192): a straight run of conditions
// on an unknown value, each leaving its other way for later. The model's verdicts and reasons against the kernel's.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, encode } from "../../compiler/isa/index.js";
import { verify } from "../../compiler/verifier/index.js";
import { VerifierCode, explainRejection } from "../../compiler/verify-programs.js";
import { BpfLoadError, missingBpf, openSys } from "../../runtime/sys/index.js";

/** `conditions` comparisons of a random number on one path, each taken way going to the exit (cheap to check later). */
function chain(conditions: number): string {
  const body = Array.from({ length: conditions }, (_, i) => `if r6 == ${i} goto out`).join("\n");
  return `call bpf_get_prandom_u32\nr6 = r0\nr7 = 0\n${body}\nout: r0 = 0\nexit`;
}

const noBpf = missingBpf();

test("8,192 queued branches are allowed and the 8,193rd is refused, as Linux words it, by the model and the kernel", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  for (const [conditions, refusal] of [[8192, undefined], [8193, "The sequence of 8193 jumps is too complex."]] as const) {
    const insns = assemble(chain(conditions));
    let kernel: string | undefined;
    try {
      sys.close(sys.progLoad({ type: 1, insns: encode(insns) }).fd);
    } catch (e) {
      if (!(e instanceof BpfLoadError)) throw e;
      kernel = e.log;
    }
    const model = verify(insns, { progType: 1 });
    if (refusal === undefined) {
      assert.equal(kernel, undefined, `the kernel refused ${conditions} conditions: ${kernel?.trim().split("\n").at(-1)}`);
      assert.ok(model.accepted, `the model refused ${conditions} conditions: ${model.error?.message}`);
      continue;
    }
    assert.match(kernel ?? "", new RegExp(`^${refusal.replace(/\./g, "\\.")}$`, "m"));
    assert.equal(model.error?.message, refusal);
    // At the last condition: its instruction is the 8,193rd jump.
    assert.equal(model.error?.pc, 3 + 8192);
  }
});

test("the refusal is explained as too many conditions on one path, not as a loop without a bound", () => {
  const insns = assemble(chain(8193));
  const why = explainRejection(insns, { pc: 3 + 8192, message: "The sequence of 8193 jumps is too complex." }, 1, () => ({ file: "chain.ts", line: 4, column: 3, text: "  if (x === 8192) n++;" }));
  assert.equal(why.code, VerifierCode.Loop);
  assert.match(why.sentence, /more than 8,192 conditions each leave their other way to be checked later/);
});
