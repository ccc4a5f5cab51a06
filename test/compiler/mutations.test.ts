// Seeded mutations of the fixtures (characters deleted, operators and keywords inserted): compile()
// must answer every one with diagnostics or an object, never an exception, and every program that
// compiles must pass the kernel's verifier.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { compile, type CompileResult } from "../../compiler/index.js";
import { PseudoLd, encode } from "../../compiler/isa/index.js";
import { BpfLoadError, MapFlag, MapType, ProgType, missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";

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
    let rodata: number | undefined;
    try {
      if (result.rodata.length) {
        rodata = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: result.rodata.length, maxEntries: 1, flags: MapFlag.RDONLY_PROG });
        sys.mapUpdate(rodata, new Uint8Array(4), result.rodata);
        sys.mapFreeze(rodata);
      }
      for (const p of result.programs) {
        const insns = p.insns.map((i) => ({ ...i }));
        for (const { insn } of p.relocations) {
          insns[insn + 1]!.imm = insns[insn]!.imm;
          insns[insn] = { ...insns[insn]!, src: PseudoLd.MAP_VALUE, imm: rodata! };
        }
        try {
          sys.close(sys.progLoad({ type: p.kind === "tracepoint" ? ProgType.TRACEPOINT : ProgType.KPROBE, insns: encode(insns), license: "GPL" }).fd);
        } catch (error) {
          if (error instanceof BpfLoadError) assert.fail(`${p.name} was rejected:\n${error.log}\nsource:\n${text}`);
          throw error;
        }
      }
    } finally {
      if (rodata !== undefined) sys.close(rodata);
    }
  }
});
