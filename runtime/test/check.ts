// Checks of what a test hands the simulator (options, task fields, times, CPUs), each failing as a usage
// SimulationError that says what to pass, before a wrong value reaches the VM and fails there as a TypeError.
// Takes values of unknown type; gives them typed.

import { usage } from "./errors.js";
import { similarNames } from "../../compiler/similar.js";

/** A value as a message shows it. */
export function shown(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 30 ? `${v.slice(0, 30)}...` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}

/** An integer number from `min` to `max`. */
export function integerIn(value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw usage(`${what} must be an integer from ${min} to ${max}, not ${shown(value)}`);
  return value;
}

/** A point or span of time: a non-negative whole number of nanoseconds, as a number or a bigint. */
export function nanoseconds(value: unknown, what: string): bigint {
  const ok = typeof value === "bigint" ? value >= 0n : typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  if (!ok) throw usage(`${what} must be a whole number of nanoseconds, at least 0 (a number or a bigint), not ${shown(value)}`);
  // The clock is a u64 (bpf_ktime_get_ns): a later time would wrap in the program's arithmetic.
  if (BigInt(value as number | bigint) > MAX_NS) throw usage(`${what} must fit in 64 bits (at most ${MAX_NS}n nanoseconds), not ${shown(value)}`);
  return BigInt(value as number | bigint);
}

const MAX_U64 = (1n << 64n) - 1n;
/** The latest time the simulated clock (a u64 of nanoseconds) can show. */
export const MAX_NS = MAX_U64;

/** One of `choices`. */
export function oneOf<T extends string>(value: unknown, choices: readonly T[], what: string): T {
  if (!(choices as readonly unknown[]).includes(value)) throw usage(`${what} must be ${choices.map((c) => `"${c}"`).join(", ")}, not ${shown(value)}`);
  return value as T;
}

/** Task fields (pid, tgid, uid, gid: u32; cgroup: u64; comm: a string), those given. */
export function checkTask(task: unknown, what: string): void {
  if (typeof task !== "object" || task === null) throw usage(`${what} must be an object of task fields (pid, tgid, uid, gid, cgroup, comm), not ${shown(task)}`);
  const fields = task as Record<string, unknown>;
  for (const id of ["pid", "tgid", "uid", "gid"]) if (fields[id] !== undefined) integerIn(fields[id], 0, 0xffff_ffff, `${what}.${id}`);
  const cgroup = fields.cgroup;
  if (cgroup !== undefined) {
    const ok = typeof cgroup === "bigint" ? cgroup >= 0n && cgroup <= MAX_U64 : typeof cgroup === "number" && Number.isSafeInteger(cgroup) && cgroup >= 0;
    if (!ok) throw usage(`${what}.cgroup must be a cgroup id, a whole number from 0 to 2^64 - 1 (a number or a bigint), not ${shown(cgroup)}`);
  }
  if (fields.comm !== undefined && typeof fields.comm !== "string") throw usage(`${what}.comm must be a string (the task name), not ${shown(fields.comm)}`);
}

/**
 * An object whose keys are all in `valid`: a misspelt or inapplicable one (`arg`, `ret` on an entry probe) would go
 * unused, and tests run through tsx are not type-checked. The error names the key, the nearest valid one (or the
 * key's entry in `hints`) and every valid key.
 */
export function knownKeys(value: unknown, valid: Readonly<Record<string, true>>, what: string, hints: Readonly<Record<string, string>> = {}, noun = "option"): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw usage(`${noun === "option" ? `${what}'s options` : what} must be an object, not ${shown(value)}`);
  }
  let unknown: string[] | undefined;
  for (const k in value) if (!Object.hasOwn(valid, k) && Object.hasOwn(value, k)) (unknown ??= []).push(k);
  if (unknown === undefined) return;
  const names = Object.keys(valid);
  const notes = unknown.flatMap((k) => (Object.hasOwn(hints, k) ? [hints[k]!] : []));
  const near = unknown.flatMap((k) => (Object.hasOwn(hints, k) ? [] : similarNames(k, names, 1)));
  if (near.length) notes.push(`did you mean ${near.join(" or ")}?`);
  throw usage(`${what} has no ${noun} ${unknown.join(" or ")}${notes.length ? ` (${notes.join("; ")})` : ""}; its ${noun}s are ${names.join(", ")}`);
}
