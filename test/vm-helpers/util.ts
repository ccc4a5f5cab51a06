// Shared set-up for the VM helper tests: a kernel, its maps, helpers and a one-line helper call.
// Takes SimKernel options; gives { kernel, maps, helpers, call, callS, stack } where call returns
// r0 unsigned and callS signed, and `stack` is a writable scratch region standing in for the BPF stack.

import { SimKernel } from "../../runtime/vm/kernel.js";
import type { SimKernelOptions } from "../../runtime/vm/kernel.js";
import { MapRegistry } from "../../runtime/vm/maps/index.js";
import { callHelper, createHelpers } from "../../runtime/vm/helpers/index.js";
import type { ArgValue } from "../../runtime/vm/helpers/context.js";

export function setup(opts: SimKernelOptions = {}) {
  const kernel = new SimKernel(opts);
  const maps = new MapRegistry(kernel);
  const helpers = createHelpers(kernel, maps);
  const stack = kernel.memory.map("stack", new Uint8Array(512), { name: "stack" });
  const call = (id: number, ...args: ArgValue[]): bigint => callHelper(helpers, id, kernel.memory, ...args);
  const callS = (id: number, ...args: ArgValue[]): number => Number(BigInt.asIntN(64, call(id, ...args)));
  /** Puts bytes on the scratch stack at `off` and returns their address. */
  const put = (off: number, bytes: Uint8Array): bigint => {
    stack.bytes.set(bytes, off);
    return stack.address(off);
  };
  return { kernel, maps, helpers, stack, call, callS, put };
}

export const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
export const u64 = (n: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
  return b;
};
export const getU64 = (b: Uint8Array, off = 0): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
export const cstr = (s: string): Uint8Array => new TextEncoder().encode(s + "\0");
export const text = (b: Uint8Array): string => {
  const n = b.indexOf(0);
  return new TextDecoder().decode(n < 0 ? b : b.subarray(0, n));
};
