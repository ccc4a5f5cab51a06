// The kernel's "nofault" memory accessors over simulated memory (mm/maccess.c, x86-64 rules).
// Takes a SimKernel (its memory and faulting ranges), a destination Uint8Array and an address;
// gives the kernel's return values: bytes copied / string length with NUL, or -EFAULT / -ERANGE.

import { Errno } from "../maps/base.js";
import { TASK_SIZE } from "../kernel.js";
import type { SimKernel } from "../kernel.js";

const PAGE_SIZE = 4096n;

/** copy_from_kernel_nofault: -ERANGE for user addresses, -EFAULT if unreadable; `dst` is zeroed on failure. */
export function copyFromKernel(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  if (a < TASK_SIZE + PAGE_SIZE) return fail(dst, -Errno.ERANGE);
  if (!kernel.canRead(a, dst.length)) return fail(dst, -Errno.EFAULT);
  dst.set(kernel.memory.read(a, dst.length));
  return 0;
}

/** copy_from_user_nofault: -EFAULT for kernel addresses or unreadable memory; `dst` is zeroed on failure. */
export function copyFromUser(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  if (a + BigInt(dst.length) > TASK_SIZE) return fail(dst, -Errno.EFAULT);
  if (!kernel.canRead(a, dst.length)) return fail(dst, -Errno.EFAULT);
  dst.set(kernel.memory.read(a, dst.length));
  return 0;
}

/** Byte-at-a-time string copy shared by both spaces: length with NUL, `dst.length` if cut, or -EFAULT. */
function copyString(kernel: SimKernel, dst: Uint8Array, a: bigint): number {
  const count = dst.length;
  for (let n = 0; n < count; n++) {
    const p = a + BigInt(n);
    if (!kernel.canRead(p, 1)) return -Errno.EFAULT;
    const b = kernel.memory.read(p, 1)[0]!;
    dst[n] = b;
    if (b === 0) return n + 1;
  }
  // Not terminated within count: the kernel keeps count-1 bytes and a NUL.
  dst[count - 1] = 0;
  return count;
}

/** strncpy_from_kernel_nofault. */
export function strncpyFromKernel(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  if (dst.length === 0) return 0;
  const a = BigInt.asUintN(64, src);
  if (a < TASK_SIZE + PAGE_SIZE) return -Errno.ERANGE;
  return copyString(kernel, dst, a);
}

/** strncpy_from_user_nofault. */
export function strncpyFromUser(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  if (dst.length === 0) return 0;
  const a = BigInt.asUintN(64, src);
  if (a >= TASK_SIZE) return -Errno.EFAULT;
  return copyString(kernel, dst, a);
}

function fail(dst: Uint8Array, err: number): number {
  dst.fill(0);
  return err;
}
