// Random TypeScript probe handlers for the differential test of the two backends.
// Takes a seed and a count; gives the text of one probe file with that many kprobe handlers, each over
// six parameters of different widths and signedness (a: i32, b: u32, c: u64, d: i64, e: i8, f: u16):
// typed `let` variables of every integer type, random integer expressions (every binary operator,
// unary minus and not, casts, ternaries over comparisons, && and ||), if/else with compound
// assignments, a printk of up to three values, and a returned expression. Literal divisors are
// never zero and literal shift counts stay below the width (both are compile-time errors or
// kernel-rejected forms); everything else, division by a zero register included, is fair.

import { Prng } from "../support/prng.js";

const PARAMS: [string, string][] = [["a", "i32"], ["b", "u32"], ["c", "u64"], ["d", "i64"], ["e", "i8"], ["f", "u16"]];
const TYPES = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];
const BIN = ["+", "-", "*", "&", "|", "^", "<<", ">>", ">>>", "/", "%"];
const CMP = ["<", "<=", ">", ">=", "===", "!=="];
const LITERALS = ["0", "1", "2", "3", "7", "31", "255", "256", "65535", "0x7fffffff", "0xffffffff", "0x100000000", "12345678901"];

export function randomProbeFile(seed: number, count: number): string {
  const rng = new Prng(seed);
  const lines = [`import { kprobe, printk, ${TYPES.join(", ")} } from "tsbpf";`, 'export const license = "GPL";'];
  for (let n = 0; n < count; n++) lines.push(handler(rng, n));
  return lines.join("\n") + "\n";
}

function handler(rng: Prng, n: number): string {
  const vars: string[] = PARAMS.map(([p]) => p);
  const types = new Map<string, string>(PARAMS);
  const body: string[] = [];
  const literal = (): string => {
    const l = rng.pick(LITERALS);
    return rng.chance(0.2) ? `(-${l})` : l;
  };
  const expr = (depth: number): string => {
    if (depth <= 0 || rng.chance(0.25)) return rng.chance(0.7) ? rng.pick(vars) : literal();
    switch (rng.below(10)) {
      case 0:
        return `(${rng.chance(0.5) ? "-" : "~"}${expr(depth - 1)})`;
      case 1: {
        const t = rng.pick(TYPES);
        return rng.chance(0.5) ? `(${expr(depth - 1)} as ${t})` : `${t}(${expr(depth - 1)})`;
      }
      case 2:
        return `(${cond(depth - 1)} ? ${expr(depth - 1)} : ${expr(depth - 1)})`;
      default: {
        const op = rng.pick(BIN);
        const left = expr(depth - 1);
        if (op === "<<" || op === ">>" || op === ">>>") return `(${left} ${op} ${rng.chance(0.5) ? String(rng.below(32)) : rng.pick(vars)})`;
        if (op === "/" || op === "%") return `(${left} ${op} ${rng.chance(0.5) ? String(rng.below(100) + 1) : rng.pick(vars)})`;
        return `(${left} ${op} ${expr(depth - 1)})`;
      }
    }
  };
  /**
   * A comparison; the left side is a variable or a conversion, so TypeScript never sees two disjoint
   * literal types. A converted literal on the left makes some conditions constant.
   */
  const compare = (depth: number): string => {
    const r = rng.below(10);
    const left = r < 4 ? rng.pick(vars) : r < 8 ? `${rng.pick(TYPES)}(${rng.pick(vars)} ${rng.pick(BIN.slice(0, 6))} ${expr(depth)})` : `${rng.pick(TYPES)}(${literal()})`;
    const op = rng.pick(CMP);
    const right = expr(depth);
    // Parenthesised: `f(x) < (y) > (z)` would parse as a generic call. TypeScript also reads
    // `x < ((y > z) ? ...` as the start of type arguments, so `<` is written mirrored as `>`.
    return op === "<" ? `(${right} > ${left})` : `(${left} ${op} ${right})`;
  };
  const cond = (depth: number): string => {
    const c = compare(depth);
    if (rng.chance(0.2)) return `(${c}) ${rng.chance(0.5) ? "&&" : "||"} (${compare(depth)})`;
    return c;
  };
  const locals = rng.between(1, 3);
  for (let i = 0; i < locals; i++) {
    const name = `v${i}`;
    const t = rng.pick(TYPES);
    body.push(`  let ${name}: ${t} = ${t}(${expr(1)});`);
    vars.push(name);
    types.set(name, t);
  }
  const assign = (): string => {
    const target = vars[rng.between(PARAMS.length, vars.length - 1)]!;
    const op = rng.pick(["=", "+=", "-=", "*=", "&=", "|=", "^="]);
    // A plain assignment converts explicitly: a folded constant must fit its variable's type.
    return op === "=" ? `${target} = ${types.get(target)}(${expr(1)});` : `${target} ${op} ${expr(1)};`;
  };
  const ifs = rng.below(3);
  for (let i = 0; i < ifs; i++) {
    body.push(`  if (${cond(1)}) { ${assign()} } else { ${assign()} }`);
  }
  if (rng.chance(0.5)) body.push(`  ${assign()}`);
  if (rng.chance(0.4)) {
    const shown = Array.from({ length: rng.between(1, 3) }, () => rng.pick(vars));
    body.push(`  printk(\`p${n}: ${shown.map((v) => `${v}=\${${v}}`).join(" ")}\`);`);
  }
  body.push(`  return ${expr(2)};`);
  return `export const p${n} = kprobe("f${n}", (${PARAMS.map(([p, t]) => `${p}: ${t}`).join(", ")}) => {\n${body.join("\n")}\n});`;
}
