// GPL-only helpers: a program whose license the kernel does not count as GPL-compatible may not call them. For every
// helper the model has a prototype for, a call of it under the license "MIT" in a program type that may call it: the
// model refuses it as GPL-restricted exactly where the kernel does (the kernel checks the license before the
// arguments, so a bare call is enough), and neither does under "Dual MIT/GPL".

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { helperName } from "../../compiler/isa/helpers.js";
import { gplCompatible, helperProto, PROTOS } from "../../compiler/verifier/helpers.js";
import { verify } from "../../compiler/verifier/index.js";
import { ProgTypeId } from "../../compiler/verifier/progtypes.js";
import { missingBpf, openSys } from "../../runtime/sys/index.js";
import { kernelVerdict } from "./kernel-compare.js";

const RESTRICTED = /cannot call GPL-restricted function from non-GPL compatible program/;
const TYPES = [ProgTypeId.kprobe, ProgTypeId.sched_cls, ProgTypeId.xdp, ProgTypeId.socket_filter];

/** Each modelled helper with a program type that may call it. */
function helpers(): { id: number; progType: number }[] {
  return Object.keys(PROTOS).map(Number).flatMap((id) => {
    const progType = TYPES.find((t) => typeof helperProto(id, t) === "object");
    return progType === undefined ? [] : [{ id, progType }];
  });
}

test("the licenses the kernel counts as GPL-compatible are matched exactly", () => {
  for (const license of ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]) assert.ok(gplCompatible(license), license);
  for (const license of ["MIT", "", "gpl", "GPL ", "GPLv2", "Proprietary"]) assert.ok(!gplCompatible(license), license);
});

test("a GPL-only helper under a license that is not GPL-compatible: the model refuses the calls the kernel refuses", { skip: missingBpf() ?? false }, () => {
  const sys = openSys();
  const problems: string[] = [];
  const all = helpers();
  assert.ok(all.length > 50, `${all.length} helpers`);
  for (const { id, progType } of all) {
    const insns = assemble(`call ${id}\nr0 = 0\nexit`);
    for (const license of ["MIT", "Dual MIT/GPL"]) {
      const kernel = RESTRICTED.test(kernelVerdict(sys, insns, progType, new Map(), { license }).why);
      const model = RESTRICTED.test(verify(insns, { progType, license }).error?.message ?? "");
      if (kernel !== model) problems.push(`${helperName(id)} under ${license}: the kernel ${kernel ? "refuses" : "takes"} it, the model ${model ? "refuses" : "takes"} it`);
    }
  }
  assert.deepEqual(problems, []);
});
