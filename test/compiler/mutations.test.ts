// Seeded mutations of the fixtures (characters deleted, operators and keywords inserted): compile()
// must answer every one with diagnostics or an object, never an exception, and every program that
// compiles must pass the kernel's verifier.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { compile, type CompileResult } from "../../compiler/index.js";
import { LoadError, loadObject, openObject } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";

const DIR = "test/compiler/fixtures";
const ROUNDS = 80;
const TOKENS = ["+", "-", "*", "/", "%", "<<", ">>", ">>>", "&&", "||", "!", "~", "?", ":", "(", ")", "{", "}", "0", "1n", "x", "a", "as u8", "as i64",
  "return", "if", "let", "const", "=", "+=", ";", ",", "`${", "}`", "printk(", "pidTgid()", "-0x80000000", "0xffffffff", "2147483648"];

const sources = readdirSync(DIR).filter((f) => f.endsWith(".ts")).sort().map((f) => readFileSync(`${DIR}/${f}`, "utf8"));
const format = readFileSync(`${DIR}/tracepoints/syscalls/sys_enter_unlinkat.format`, "utf8");

function mutants(): string[] {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const out: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let s = sources[rnd(sources.length)]!;
    for (let k = 0, m = 1 + rnd(4); k < m; k++) {
      const at = rnd(s.length);
      s = rnd(3) === 0 ? s.slice(0, at) + s.slice(at + 1 + rnd(5)) : `${s.slice(0, at)} ${TOKENS[rnd(TOKENS.length)]} ${s.slice(at)}`;
    }
    out.push(s);
  }
  return out;
}

const results: { text: string; result: CompileResult }[] = [];

test("mutated probe files give diagnostics or objects, never exceptions", () => {
  for (const text of mutants()) {
    const result = compile({ fileName: "mutant.ts", text }, { arch: "x86_64", tracepointFormat: () => format });
    assert.ok(result.diagnostics.length > 0 || result.object.length > 0);
    if (!result.diagnostics.length) results.push({ text, result });
  }
  assert.ok(results.length > 0, "no mutant compiled; the mutations are too aggressive to test code generation");
});

test("every mutant that compiles passes the kernel's verifier", { skip: missingRoot() ?? missingBpf() }, () => {
  const sys = openSys();
  for (const { text, result } of results) {
    try {
      // Through the loader, which creates the maps and the `.rodata` map the programs refer to.
      loadObject(sys, openObject(result.object, { name: "mutant" })).close();
    } catch (error) {
      if (error instanceof LoadError) assert.fail(`${error.object} was rejected:\n${error.log}\nsource:\n${text}`);
      throw error;
    }
  }
});
