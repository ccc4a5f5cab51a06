// selectTier: each choice gives its tier; "auto" moves a hot program to compiled code with unchanged results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import { Memory } from "../../runtime/vm/memory.js";
import { prepare } from "../../runtime/vm/program.js";
import { AUTO_BASE, AUTO_PER_SLOT, selectTier } from "../../runtime/vm/tiers.js";
import { interpreterTier } from "../../runtime/vm/vm.js";
import { isCompiled } from "../../runtime/vm/compiled/index.js";

test("selectTier names", () => {
  assert.equal(selectTier("interpreter"), interpreterTier);
  assert.equal(selectTier("compiled").name, "compiled");
  assert.equal(selectTier("auto").name, "auto");
  assert.equal(selectTier().name, "auto");
});

test("auto compiles a program once it is hot, with identical results", () => {
  const insns = assemble("r0 = 0\nr1 = 0\nl: r0 += r1\nr1 += 1\nif r1 < 1000 goto l\nexit");
  const program = prepare(insns, { memory: new Memory(), helpers: new Map() });
  const auto = selectTier("auto");
  const first = auto.run(program);
  assert.equal(isCompiled(program), false, "one run is not hot");
  const runs = Math.ceil((AUTO_BASE + AUTO_PER_SLOT * program.length) / first.instructions) + 1;
  for (let k = 0; k < runs; k++) assert.deepEqual(auto.run(program), first);
  assert.equal(isCompiled(program), true);
  assert.deepEqual(auto.run(program), first);
});
