// Global variables given values before loading, as a libbpf skeleton sets a tool's `const volatile` knobs
// (`obj->rodata->targ_pid = pid`): each value is written into the initial bytes of its data section's map, so a
// `.rodata` one is still a constant the kernel's verifier knows, and code behind a false test of it is pruned.
// Takes the object's data maps and NAME -> value; gives their new initial bytes, or a GlobalValueError naming the
// variable and what is wrong with its value.
import { similarNames } from "../../compiler/similar.js";
import { GlobalValueError } from "./errors.js";
import { KCONFIG_SECTION } from "./externs.js";
import type { MapSpec } from "./object.js";
import { TARGET_PID_VARIABLE } from "../../compiler/ir/index.js";

/** An integer (bigint), a boolean, or text: a number for a 1-, 2-, 4- or 8-byte variable, else a NUL-terminated string. */
export type GlobalValue = bigint | boolean | string;

/** Whether an object's probes read targetPid(): its data holds TARGET_PID_VARIABLE, which the loader then sets. */
export function readsTargetPid(maps: readonly MapSpec[]): boolean {
  return maps.some((m) => m.origin === "data" && m.variables.some((v) => v.name === TARGET_PID_VARIABLE));
}

/** The data maps' initial bytes with `values` written in, by map name; maps no value touches are left out. */
export function setGlobals(maps: readonly MapSpec[], values: ReadonlyMap<string, GlobalValue>): Map<string, Uint8Array> {
  const data = maps.filter((m) => m.origin === "data" && m.name !== KCONFIG_SECTION);
  const out = new Map<string, Uint8Array>();
  for (const [name, value] of values) {
    const map = data.find((m) => m.variables.some((v) => v.name === name));
    if (!map) {
      // targetPid()'s variable is tsbpf's own, set by --command/--pid.
      const names = data.flatMap((m) => m.variables.map((v) => v.name)).filter((n) => n !== TARGET_PID_VARIABLE);
      const near = similarNames(name, names);
      const known = names.length ? `its global variables are ${names.join(", ")}` : "it has no global variables";
      throw new GlobalValueError(`the object has no global variable ${name}${near.length ? ` (did you mean ${near.join(" or ")}?)` : ""}; ${known}`);
    }
    const variable = map.variables.find((v) => v.name === name)!;
    let bytes = out.get(map.name);
    if (!bytes) {
      bytes = new Uint8Array(map.valueSize);
      if (map.initial) bytes.set(map.initial.subarray(0, map.valueSize));
      out.set(map.name, bytes);
    }
    bytes.set(encode(name, variable.size, value), variable.offset);
  }
  return out;
}

function encode(name: string, size: number, value: GlobalValue): Uint8Array {
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
  if (n < -(1n << (bits - 1n)) || n >= 1n << bits) throw new GlobalValueError(`${name} is a ${size}-byte integer, and ${n} does not fit in it`);
  // Little-endian, as BPF objects for x86-64 and arm64 are.
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return bytes.subarray(0, size);
}
