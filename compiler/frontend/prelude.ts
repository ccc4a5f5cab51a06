// The declarations a probe file is type-checked against (with `noLib`, so checking stays ~0.1 s).
// Takes the tracepoints the file names; gives the text of one ambient declaration file: the few
// global interfaces TypeScript needs without a lib, and `declare module "tsbpf"` with the probe
// constructors, integer types, helpers and one context type per tracepoint.
// Keep in step with /index.ts, which users' editors see (a test compares their exports).

import type { TracepointFormat } from "./tracepoints.js";

export const PRELUDE_FILE = "/__tsbpf__/prelude.d.ts";

/** The names the "tsbpf" module exports, by role; the lowering dispatches on these. */
export const PROBES = ["kprobe", "kretprobe", "uprobe", "uretprobe", "tracepoint"] as const;
export const HELPERS = ["printk", "pidTgid", "uidGid", "ktimeNs", "smpProcessorId", "prandomU32", "comm"] as const;

const GLOBALS = `
interface Array<T> { readonly length: number; [n: number]: T }
interface Boolean {}
interface CallableFunction {}
interface Function {}
interface IArguments {}
interface NewableFunction {}
interface Number {}
interface Object {}
interface RegExp {}
interface String { readonly length: number }
interface TemplateStringsArray extends Array<string> { readonly raw: readonly string[] }
interface BigInt {}
interface Symbol {}
interface Promise<T> {}
`;

const MODULE_HEAD = `
declare module "tsbpf" {
  export type u8 = number;
  export type u16 = number;
  export type u32 = number;
  export type u64 = number;
  export type i8 = number;
  export type i16 = number;
  export type i32 = number;
  export type i64 = number;
  /** Conversions, as C casts: \`u32(x)\` is \`x as u32\`; \`u64(0xffff_ffff_ffff_fff0n)\` makes a bigint literal a u64. */
  export function u8(value: number | bigint): u8;
  export function u16(value: number | bigint): u16;
  export function u32(value: number | bigint): u32;
  export function u64(value: number | bigint): u64;
  export function i8(value: number | bigint): i8;
  export function i16(value: number | bigint): i16;
  export function i32(value: number | bigint): i32;
  export function i64(value: number | bigint): i64;
  /** A pointer into kernel or user memory. */
  export type Ptr<T = unknown> = number & { readonly __tsbpfPointee?: T } & { readonly [K in keyof T]: T[K] };
  /** A fixed-size, NUL-padded char array. */
  export type Str<N extends number = number> = string & { readonly __tsbpfLength?: N };
  export interface Probe { readonly __tsbpfProbe: true }
  export type Handler<A extends unknown[]> = (...args: A) => number | bigint | void;
  export function kprobe(fn: string, handler: Handler<any[]>): Probe;
  export function kretprobe(fn: string, handler: Handler<any[]>): Probe;
  export function uprobe(binary: string, symbol: string, handler: Handler<any[]>): Probe;
  export function uretprobe(binary: string, symbol: string, handler: Handler<any[]>): Probe;
  export function tracepoint<G extends string, N extends string>(group: G, name: N, handler: (ctx: TracepointContext<G, N>) => number | bigint | void): Probe;
  export type TracepointContext<G extends string, N extends string> = \`\${G}/\${N}\` extends keyof Tracepoints ? Tracepoints[\`\${G}/\${N}\`] : never;
  export function printk(message: string): void;
  export function pidTgid(): u64;
  export function uidGid(): u64;
  export function ktimeNs(): u64;
  export function smpProcessorId(): u32;
  export function prandomU32(): u32;
  export function comm(): Str<16>;
`;

/** The prelude for a file that uses the given tracepoints. */
export function preludeText(tracepoints: readonly TracepointFormat[], kernelModule = ""): string {
  const entries = tracepoints.map((tp) => {
    const fields = tp.fields.filter((f) => f.tsType).map((f) => `      readonly ${JSON.stringify(f.name)}: ${f.tsType};`);
    return `    ${JSON.stringify(`${tp.group}/${tp.name}`)}: {\n${fields.join("\n")}\n    };`;
  });
  return `${GLOBALS}${MODULE_HEAD}  export interface Tracepoints {\n${entries.join("\n")}\n  }\n}\n${kernelModule}`;
}
