// Global variables given values before loading, as a libbpf skeleton sets a tool's `const volatile` knobs
// (`obj->rodata->targ_pid = pid`): each value is written into the initial bytes of its data section's map, so a
// `.rodata` one is still a constant the kernel's verifier knows, and code behind a false test of it is pruned.
// Takes the object's data maps and BTF and NAME -> value; gives their new initial bytes, or a GlobalValueError naming
// the variable and what is wrong with its value. Text (a --set value) is read as the variable's BTF type reads it.
import { similarNames } from "../../compiler/similar.js";
import type { Btf } from "../../compiler/btf/parse.js";
import { BtfError, BtfIntEncoding, BtfKind, isAnyEnum, type BtfType } from "../../compiler/btf/types.js";
import { isStringChar } from "./decode.js";
import { GlobalValueError } from "./errors.js";
import { KCONFIG_SECTION } from "./externs.js";
import type { MapSpec } from "./object.js";
import { CGROUP_PATH_PREFIX, KADDR_PREFIX, TARGET_PID_VARIABLE, UADDR_PREFIX } from "../../compiler/ir/index.js";
import { DROPPED_COUNTER_PREFIX, STACK_ID_COUNTER } from "../../compiler/btf/tags.js";

/**
 * An integer (bigint), a boolean, or text, or a list of them for an array. Text is read as the variable's type in the
 * object's BTF reads it: an integer (decimal or 0x, signed or not) for an integer, also `true`/`false` for a `_Bool`,
 * also an enumerator's name for an enum, the bytes of a NUL-terminated string for a `char` array, and a
 * comma-separated list of such elements for an array of integers, booleans or enums (a multi-dimensional one filled
 * in C's order). Without BTF, text that reads as an integer is one for a 1-, 2-, 4- or 8-byte variable,
 * `true`/`false` are booleans, and other text is a string.
 */
export type GlobalValue = GlobalScalar | readonly GlobalScalar[];
type GlobalScalar = bigint | boolean | string;

/** Whether an object's probes read targetPid(): its data holds TARGET_PID_VARIABLE, which the loader then sets. */
export function readsTargetPid(maps: readonly MapSpec[]): boolean {
  return maps.some((m) => m.origin === "data" && m.variables.some((v) => v.name === TARGET_PID_VARIABLE));
}

/** The kernel symbols an object's kaddr() calls name: its `.rodata` variables `__tsbpf_kaddr_NAME`, which the loader sets. */
export function kaddrSymbols(maps: readonly MapSpec[]): string[] {
  return maps.flatMap((m) => (m.origin === "data" ? m.variables.filter((v) => v.name.startsWith(KADDR_PREFIX)).map((v) => v.name.slice(KADDR_PREFIX.length)) : []));
}

/**
 * The binaries and symbols an object's uaddr() calls name, with the variable each address goes into: its `.rodata`
 * `__tsbpf_uaddr_K` and, beside it, `__tsbpf_uaddr_K_name`'s chars `BINARY\0SYMBOL\0`.
 */
export function uaddrSymbols(maps: readonly MapSpec[]): { variable: string; binary: string; symbol: string }[] {
  const out: { variable: string; binary: string; symbol: string }[] = [];
  for (const m of maps) {
    if (m.origin !== "data") continue;
    for (const v of m.variables) {
      if (!v.name.startsWith(UADDR_PREFIX) || v.name.endsWith("_name")) continue;
      const names = m.variables.find((x) => x.name === `${v.name}_name`);
      const bytes = names && m.initial?.subarray(names.offset, names.offset + names.size);
      const [binary, symbol] = bytes ? new TextDecoder().decode(bytes).split("\0") : [];
      if (binary && symbol) out.push({ variable: v.name, binary, symbol });
    }
  }
  return out;
}

/** The cgroup paths an object's cgroupId(path) calls name, with the variable each id goes into (`__tsbpf_cgroupid_K`). */
export function cgroupPaths(maps: readonly MapSpec[]): { variable: string; path: string }[] {
  const out: { variable: string; path: string }[] = [];
  for (const m of maps) {
    if (m.origin !== "data") continue;
    for (const v of m.variables) {
      if (!v.name.startsWith(CGROUP_PATH_PREFIX) || v.name.endsWith("_name")) continue;
      const name = m.variables.find((x) => x.name === `${v.name}_name`);
      const bytes = name && m.initial?.subarray(name.offset, name.offset + name.size);
      const path = bytes ? new TextDecoder().decode(bytes).split("\0")[0] : undefined;
      if (path) out.push({ variable: v.name, path });
    }
  }
  return out;
}

/**
 * tsbpf's own variables, which a probe file does not declare: targetPid()'s (set by --command/--pid), the printf and
 * printk formats, the counts of records ring buffers dropped and of the stacks given ids.
 */
export function tsbpfVariable(name: string): boolean {
  return name === TARGET_PID_VARIABLE || name.startsWith("__tsbpf_") || name.startsWith(DROPPED_COUNTER_PREFIX) || name === STACK_ID_COUNTER;
}

/** Why global `name` cannot be found: the nearest of `names`, and all of them (those a message should offer). */
export function noSuchGlobal(name: string, names: readonly string[]): string {
  const near = similarNames(name, names);
  const known = names.length ? `its global variables are ${names.join(", ")}` : "it has no global variables";
  return `the object has no global variable ${name}${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}; ${known}`;
}

/** The TypeScript names a probe declares its parameters with, for the C names tsbpf's BTF gives them. */
const TS_NAMES: Readonly<Record<string, string>> = {
  _Bool: "boolean",
  "unsigned char": "u8",
  "unsigned short": "u16",
  "unsigned int": "u32",
  "unsigned long long": "u64",
  "signed char": "i8",
  short: "i16",
  int: "i32",
  "long long": "i64",
};

/**
 * The data maps' initial bytes with `values` written in, by map name; maps no value touches are left out. `typeScript`
 * (an object compiled from a probe file) names types in errors as the probe declares them (u64, boolean), not as C.
 */
export function setGlobals(maps: readonly MapSpec[], values: ReadonlyMap<string, GlobalValue>, btf?: Btf, typeScript = false): Map<string, Uint8Array> {
  const data = maps.filter((m) => m.origin === "data" && m.name !== KCONFIG_SECTION);
  const out = new Map<string, Uint8Array>();
  for (const [name, value] of values) {
    // The formats are constants printk reads, the counts start at zero; targetPid()'s, kaddr()'s, uaddr()'s and cgroupId(path)'s variables are set through these values too.
    const map = tsbpfVariable(name) && name !== TARGET_PID_VARIABLE && !name.startsWith(KADDR_PREFIX) && !name.startsWith(UADDR_PREFIX) && !name.startsWith(CGROUP_PATH_PREFIX) ? undefined : data.find((m) => m.variables.some((v) => v.name === name));
    if (!map) {
      // A __kconfig extern has no initial value to give: the running kernel's config, or its release, decides it.
      const kconfig = maps.some((m) => m.name === KCONFIG_SECTION && m.variables.some((v) => v.name === name));
      if (kconfig) throw new GlobalValueError(`${name} is a __kconfig extern, whose value comes from the running kernel (its config, or its release for LINUX_KERNEL_VERSION), not from the command line`);
      throw new GlobalValueError(noSuchGlobal(name, data.flatMap((m) => m.variables.map((v) => v.name)).filter((n) => !tsbpfVariable(n))));
    }
    const variable = map.variables.find((v) => v.name === name)!;
    let bytes = out.get(map.name);
    if (!bytes) {
      bytes = new Uint8Array(map.valueSize);
      if (map.initial) bytes.set(map.initial.subarray(0, map.valueSize));
      out.set(map.name, bytes);
    }
    const typed = btf && typeOf(btf, name);
    const type = typed && typeScript ? inTypeScript(typed) : typed;
    const bool = typeScript ? "boolean" : "_Bool";
    if (type?.kind === "array") writeArray(bytes, variable.offset, name, value, type, bool);
    else bytes.set(encode(name, variable.size, scalar(name, value, type, bool), type, bool), variable.offset);
  }
  return out;
}

/** What a variable, or an element of an array, holds, as far as a value given for it goes. */
type Scalar = { kind: "bool" } | { kind: "int"; signed: boolean; type: string } | { kind: "enum"; signed: boolean; type: string; values: readonly { name: string; value: bigint }[] };
/** An array of scalars: `dimensions` outermost first (`[2, 3]` for `x[2][3]`), `count` their product. */
type ArrayOf = { kind: "array"; element: Scalar; elementSize: number; dimensions: readonly number[]; count: number; type: string };
type Holds = Scalar | ArrayOf | { kind: "chars" } | { kind: "other"; type: string };

/** `type` with the C type names tsbpf's BTF gives a probe's declarations replaced by their TypeScript names (`Arr<u16, 4>`). */
function inTypeScript<T extends Holds>(type: T): T {
  if (type.kind === "array") {
    const element = inTypeScript(type.element);
    const name = type.dimensions.reduceRight((inner, length) => `Arr<${inner}, ${length}>`, element.kind === "bool" ? "boolean" : element.type);
    return { ...type, element, type: name };
  }
  return "type" in type ? { ...type, type: TS_NAMES[type.type] ?? type.type } : type;
}

/** The variable's type from its BTF VAR; undefined when the BTF has none of that name (or is malformed). */
function typeOf(btf: Btf, name: string): Holds | undefined {
  try {
    return holds(btf, name);
  } catch (e) {
    if (e instanceof BtfError) return undefined;
    throw e;
  }
}

const unqualified = (name: string) => name.replace(/^(const |volatile )+/, "");

function holds(btf: Btf, name: string): Holds | undefined {
  const variable = btf.find(name, BtfKind.VAR);
  if (!variable || variable.kind !== BtfKind.VAR) return undefined;
  const t = btf.resolveType(variable.type);
  const type = unqualified(btf.typeName(variable.type));
  if (t.kind !== BtfKind.ARRAY) return scalarType(t, type) ?? { kind: "other", type };
  const dimensions: number[] = [];
  let elementId = variable.type;
  let element: BtfType = t;
  while (element.kind === BtfKind.ARRAY) {
    dimensions.push(element.nelems);
    elementId = element.type;
    element = btf.resolveType(element.type);
  }
  // Only `char` arrays are strings, as tsbpf prints them; a `__u8` array is numbers.
  if (dimensions.length === 1 && isStringChar(element)) return { kind: "chars" };
  const elementType = unqualified(btf.typeName(elementId));
  const scalar = scalarType(element, elementType);
  if (!scalar) return { kind: "other", type };
  const count = dimensions.reduce((a, b) => a * b, 1);
  return { kind: "array", element: scalar, elementSize: btf.sizeOf(elementId), dimensions, count, type: `${elementType}${dimensions.map((d) => `[${d}]`).join("")}` };
}

/** An integer, _Bool or enum type (`t` resolved, `type` its name as declared); undefined for any other. */
function scalarType(t: BtfType, type: string): Scalar | undefined {
  if (t.kind === BtfKind.INT) {
    if (t.encoding & BtfIntEncoding.BOOL) return { kind: "bool" };
    return { kind: "int", signed: (t.encoding & BtfIntEncoding.SIGNED) !== 0, type };
  }
  if (isAnyEnum(t)) return { kind: "enum", signed: t.signed, type, values: t.values.map((v) => ({ name: v.name, value: BigInt(v.value) })) };
  return undefined;
}

const INTEGER = /^[+-]?(0x[0-9a-f]+|\d+)$/i;

/** A decimal or 0x integer with an optional sign (BigInt() takes no sign before 0x). */
function parseInteger(text: string): bigint {
  const n = BigInt(text.replace(/^[+-]/, ""));
  return text.startsWith("-") ? -n : n;
}

/** A value for a variable that is no array: a list is refused, text is read as the variable's type reads it. */
function scalar(name: string, given: GlobalValue, type: Holds | undefined, bool: string): GlobalScalar {
  if (type?.kind === "other") throw new GlobalValueError(`${name} is of type ${type.type}: only integers, booleans, enums, char arrays and arrays of integers, booleans or enums can be given values`);
  if (typeof given === "object") {
    if (type?.kind === "chars") throw new GlobalValueError(`${name} is a char array: give it a string, not a list`);
    const what = !type ? "has no type in the object's BTF to lay a list out by" : `is of type ${type.kind === "bool" ? bool : type.type}, not an array`;
    throw new GlobalValueError(`${name} ${what}: give it one value, not a list of ${given.length}`);
  }
  return typeof given === "string" && type?.kind !== "chars" ? readText(name, given, type, bool, `${name}=42`) : given;
}

/**
 * Writes `given` (a list, or text of comma-separated elements) into the array at `offset`, element by element, each
 * read as its element type reads a scalar; elements past the list keep the bytes they were initialised with.
 */
function writeArray(bytes: Uint8Array, offset: number, name: string, given: GlobalValue, type: ArrayOf, bool: string): void {
  const list = typeof given === "string" ? given.split(",").map((s) => s.trim()) : typeof given === "object" ? given : [given];
  if (list.length > type.count) {
    throw new GlobalValueError(`${name} is of type ${type.type}, which holds ${type.count} elements, and ${list.length} values were given`);
  }
  list.forEach((value, i) => {
    const element = `${name}${indexOf(i, type.dimensions)}`;
    const n = typeof value === "string" ? readText(element, value, type.element, bool, `${name}=12,34`) : value;
    bytes.set(encode(element, type.elementSize, n, type.element, bool), offset + i * type.elementSize);
  });
}

/** The C subscripts of the `i`th element in memory of an array of `dimensions` (`[1][0]` for 3 of `[2][3]`). */
function indexOf(i: number, dimensions: readonly number[]): string {
  let subscripts = "";
  for (let d = dimensions.length - 1; d >= 0; d--) {
    subscripts = `[${i % dimensions[d]!}]${subscripts}`;
    i = Math.floor(i / dimensions[d]!);
  }
  return subscripts;
}

function encode(name: string, size: number, value: GlobalScalar, type: Holds | undefined, bool: string): Uint8Array {
  if (type?.kind === "chars" && typeof value !== "string") throw new GlobalValueError(`${name} is a char array: give it a string`);
  if (typeof value === "string") {
    const text = new TextEncoder().encode(value);
    if (text.length >= size) throw new GlobalValueError(`${name} holds ${size} bytes, so a string of at most ${size - 1} bytes (and its NUL); "${value}" has ${text.length}`);
    const bytes = new Uint8Array(size);
    bytes.set(text);
    return bytes;
  }
  const n = typeof value === "boolean" ? BigInt(value) : value;
  if (![1, 2, 4, 8].includes(size)) throw new GlobalValueError(`${name} is ${size} bytes, not an integer: give it a string`);
  const bits = BigInt(size * 8);
  if (type?.kind === "bool" && n !== 0n && n !== 1n) throw new GlobalValueError(`${name} is of type ${bool}: give it true or false, not ${n}`);
  // Without a type, either reading of the bits: -1 for an unsigned variable is its largest value, as C converts.
  const [low, high] = type?.kind === "int" || type?.kind === "enum" ? (type.signed ? [-(1n << (bits - 1n)), 1n << (bits - 1n)] : [0n, 1n << bits]) : [-(1n << (bits - 1n)), 1n << bits];
  const what = type?.kind === "int" || type?.kind === "enum" ? `of type ${type.type}` : `a ${size}-byte integer`;
  if (n < low || n >= high) throw new GlobalValueError(`${name} is ${what}, and ${n} does not fit in it (${low} to ${high - 1n})`);
  // Little-endian, as BPF objects for x86-64 and arm64 are.
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return bytes.subarray(0, size);
}

/** Text given for a variable (or an array's element) that is not a char array, read as its type reads it. */
function readText(name: string, text: string, type: Holds | undefined, bool: string, example: string): GlobalScalar {
  if (INTEGER.test(text)) return parseInteger(text);
  if (text === "true" || text === "false") return text === "true"; // 1 or 0 for an integer, as in C
  if (type?.kind === "enum") {
    const value = type.values.find((v) => v.name === text)?.value;
    if (value !== undefined) return value;
    throw new GlobalValueError(`${name} is of type ${type.type}: give it one of ${type.values.map((v) => v.name).join(", ")} or an integer, not "${text}"`);
  }
  if (type?.kind === "bool") throw new GlobalValueError(`${name} is of type ${bool}: give it true or false, not "${text}"`);
  if (type?.kind === "int") throw new GlobalValueError(`${name} is of type ${type.type}: give it an integer (decimal or 0x, e.g. ${example}), not "${text}"`);
  return text; // no type: a string, if the variable can hold it
}
