// Random TypeScript probe handlers for the differential test of the two backends.
// Takes a seed and a count; gives the text of one probe file with that many kprobe handlers, each over
// six parameters of different widths and signedness (a: i32, b: u32, c: u64, d: i64, e: i8, f: u16):
// typed `let` variables of every integer type, random integer expressions (every binary operator,
// unary minus and not, casts, ternaries over comparisons, && and ||), if/else with compound
// assignments, a printk of up to three values, and a returned expression. Literal divisors are
// never zero and literal shift counts stay below the width (both are compile-time errors or
// kernel-rejected forms), and a comparison's constant side is converted to i64 (a negative constant
// against an unsigned value is an error); everything else, division by a zero register included, is fair.
//
// Maps: every file declares the maps of MAPS (hash, array, per-CPU hash and array, LRU hash, a
// histogram; integer and struct keys and values), and about half the handlers operate on them:
// lookup with a null test (reading the value, or writing a struct value's fields through it),
// `lookup(k) ?? x`, update with each flag (its result added into a variable), delete, increment
// by one or by an expression, histogram records, a map of booleans. Some handlers keep a boolean
// local (C's _Bool): set from a condition, flipped or reset in an if, printed and used in the result. Keys are masked to ranges a little wider than the
// maps, so that handlers meet each other's entries, hash maps fill up (inserts fail with E2BIG),
// the LRU map evicts and array indices run past the end. The test compares the maps' bytes after
// each handler.

import { Prng } from "../support/prng.js";

const PARAMS: [string, string][] = [["a", "i32"], ["b", "u32"], ["c", "u64"], ["d", "i64"], ["e", "i8"], ["f", "u16"]];
const TYPES = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];
const BIN = ["+", "-", "*", "&", "|", "^", "<<", ">>", ">>>", "/", "%"];
const CMP = ["<", "<=", ">", ">=", "===", "!=="];
const LITERALS = ["0", "1", "2", "3", "7", "31", "255", "256", "65535", "0x7fffffff", "0xffffffff", "0x100000000", "12345678901"];

/** The maps of every generated file, by name: their declarations, and the names the test dumps. */
export const MAPS: Readonly<Record<string, string>> = {
  hm: "new HashMap<u32, u64>(8)",
  hw: "new HashMap<u64, i32>(8)",
  hs: "new HashMap<Key2, Pair>(4)",
  am: "new ArrayMap<u64>(8)",
  aw: "new ArrayMap<u32>(8)",
  pch: "new PerCpuHashMap<u32, u64>(8)",
  pca: "new PerCpuArrayMap<i64>(8)",
  lru: "new LruHashMap<u16, u32>(4)",
  hist: "new Histogram()",
  hb: "new HashMap<u32, boolean>(8)",
};
const MAP_HEAD = [
  "interface Key2 { a: u32; b: u16 }",
  "interface Pair { x: u64; y: i32; z: u16 }",
  ...Object.entries(MAPS).map(([name, init]) => `const ${name} = ${init};`),
];

export function randomProbeFile(seed: number, count: number): string {
  const rng = new Prng(seed);
  const lines = [
    `import { kprobe, printk, HashMap, ArrayMap, PerCpuHashMap, PerCpuArrayMap, LruHashMap, Histogram, ANY, NOEXIST, EXIST, ${TYPES.join(", ")} } from "tsbpf";`,
    'export const license = "GPL";',
    ...MAP_HEAD,
  ];
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
    // A constant compares as the number it is: a negative one against an unsigned value is refused, so one that
    // names no variable is converted first.
    const generated = expr(depth);
    const right = vars.some((v) => new RegExp(`\\b${v}\\b`).test(generated)) ? generated : `i64(${generated})`;
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
  const flag = rng.chance(0.3);
  if (flag) body.push(`  let q: boolean = ${cond(1)};`);
  const assign = (): string => {
    const target = vars[rng.between(PARAMS.length, vars.length - 1)]!;
    const op = rng.pick(["=", "+=", "-=", "*=", "&=", "|=", "^="]);
    // A plain assignment converts explicitly: a folded constant must fit its variable's type.
    return op === "=" ? `${target} = ${types.get(target)}(${expr(1)});` : `${target} ${op} ${expr(1)};`;
  };
  // Map operations, each a statement or two; `m${n}_k` names the lookups' results.
  const mapOps: string[] = [];
  if (rng.chance(0.5)) {
    const ops = rng.between(1, 3);
    for (let k = 0; k < ops; k++) mapOps.push(mapOp(rng, `m${k}`, vars, types, expr, cond));
  }
  const ifs = rng.below(3);
  for (let i = 0; i < ifs; i++) {
    body.push(`  if (${cond(1)}) { ${assign()} } else { ${assign()} }`);
  }
  if (rng.chance(0.5)) body.push(`  ${assign()}`);
  if (flag && rng.chance(0.5)) body.push(`  if (${cond(1)}) { q = ${rng.chance(0.5) ? "!q" : cond(1)}; }`);
  // Map operations go among the statements, before or after the ifs.
  for (const op of mapOps) body.splice(rng.between(locals, body.length), 0, `  ${op}`);
  if (rng.chance(0.4)) {
    const shown = Array.from({ length: rng.between(1, 3) }, () => (flag && rng.chance(0.3) ? "q" : rng.pick(vars)));
    body.push(`  printk(\`p${n}: ${shown.map((v) => `${v}=\${${v}}`).join(" ")}\`);`);
  }
  body.push(`  return ${flag && rng.chance(0.5) ? `q ? ${expr(2)} : ${expr(2)}` : expr(2)};`);
  return `export const p${n} = kprobe("f${n}", (${PARAMS.map(([p, t]) => `${p}: ${t}`).join(", ")}) => {\n${body.join("\n")}\n});`;
}

const FLAGS = ["", "", ", ANY", ", NOEXIST", ", EXIST"];

/** One map operation over the handler's variables (`vars` beyond the parameters are assignable locals). */
function mapOp(rng: Prng, name: string, vars: readonly string[], types: ReadonlyMap<string, string>, expr: (depth: number) => string, cond: (depth: number) => string): string {
  const local = (): string => vars[rng.between(PARAMS.length, vars.length - 1)]!;
  const key = (type: string, range: number): string => `${type}(${expr(1)} & ${range})`;
  const key2 = (): string => `{ a: ${key("u32", 3)}, b: ${key("u16", 1)} }`;
  const pair = (): string => `{ x: u64(${expr(1)}), y: i32(${expr(1)}), z: u16(${expr(1)}) }`;
  /** A keyed map, its key and its value expression. */
  const intMap = (): [string, string, string] => {
    switch (rng.below(5)) {
      case 0: return ["hm", key("u32", 31), `u64(${expr(1)})`];
      case 1: return ["hw", key("u64", 31), `i32(${expr(1)})`];
      case 2: return ["pch", key("u32", 15), `u64(${expr(1)})`];
      case 3: return ["lru", key("u16", 15), `u32(${expr(1)})`];
      default: return rng.chance(0.5) ? ["am", key("u32", 15), `u64(${expr(1)})`] : ["aw", key("u32", 15), `u32(${expr(1)})`];
    }
  };
  const into = (value: string): string => {
    const v = local();
    return `${v} ${rng.pick(["+=", "^=", "-="])} ${types.get(v)}(${value});`;
  };
  switch (rng.below(10)) {
    case 0: {
      // lookup, null test, read the value
      const [m, k] = intMap();
      const v = local();
      const test = rng.chance(0.5) ? `${name} !== null` : `${name} === null`;
      const found = `${v} += ${types.get(v)}(${name});`;
      const missing = `${v} = ${types.get(v)}(${expr(1)});`;
      return `const ${name} = ${m}.lookup(${k}); if (${test}) { ${test.includes("!==") ? found : missing} } else { ${test.includes("!==") ? missing : found} }`;
    }
    case 1: {
      const [m, k] = intMap();
      return into(`${m}.lookup(${k}) ?? ${rng.pick(LITERALS.slice(0, 6))}`);
    }
    case 2: {
      // a struct value: fields written through the pointer lookup() gave
      const v = local();
      return `const ${name} = hs.lookup(${key2()}); if (${name} !== null) { ${name}.x += ${expr(1)}; ${name}.y = i32(${expr(1)}); ${v} ^= ${types.get(v)}(${name}.z); }`;
    }
    case 3: {
      if (rng.chance(0.3)) return into(`hs.update(${key2()}, ${pair()}${rng.pick(FLAGS)})`);
      const [m, k, value] = intMap();
      return rng.chance(0.7) ? into(`${m}.update(${k}, ${value}${rng.pick(FLAGS)})`) : `${m}.update(${k}, ${value}${rng.pick(FLAGS)});`;
    }
    case 4: {
      const m = rng.pick(["hm", "hw", "pch", "lru", "hs"]);
      const k = m === "hs" ? key2() : key(m === "hw" ? "u64" : m === "lru" ? "u16" : "u32", m === "hm" || m === "hw" ? 31 : 15);
      return rng.chance(0.5) ? into(`${m}.delete(${k})`) : `${m}.delete(${k});`;
    }
    case 5:
    case 6: {
      const m = rng.pick(["hm", "hw", "am", "aw", "pch", "pca", "lru"]);
      const k = key(m === "hw" ? "u64" : m === "lru" ? "u16" : "u32", m === "hm" || m === "hw" ? 31 : 15);
      return `${m}.increment(${k}${rng.chance(0.5) ? `, ${expr(1)}` : ""});`;
    }
    case 7:
      return `hist.record(${expr(1)});`;
    case 8: {
      // booleans as map values: stored from a condition, read back with a default
      const k = key("u32", 15);
      return rng.chance(0.5) ? `hb.update(${k}, ${cond(1)}${rng.pick(FLAGS)});` : into(`hb.lookup(${k}) ?? ${rng.pick(["true", "false"])} ? ${expr(1)} : ${expr(1)}`);
    }
    default: {
      // an array lookup, indices past the end included, inside a condition
      const m = rng.pick(["am", "aw", "pca"]);
      const v = local();
      return `if (${cond(0)}) { const ${name} = ${m}.lookup(${key("u32", 15)}); if (${name} !== null) { ${v} -= ${types.get(v)}(${name}); } }`;
    }
  }
}
