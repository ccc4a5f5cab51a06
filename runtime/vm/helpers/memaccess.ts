// The kernel's "nofault" memory accessors over simulated memory (mm/maccess.c, x86-64 rules).
// Takes a SimKernel (its memory and faulting ranges), a destination Uint8Array and an address;
// gives the kernel's return values: bytes copied / string length with NUL, or -EFAULT / -ERANGE.

import { Errno } from "../maps/base.js";
import { TASK_SIZE } from "../kernel.js";
import type { SimKernel } from "../kernel.js";
import { REGION_BASE, join } from "../memory.js";

const TWO32 = 4294967296;
const TASK_SIZE_NUM = Number(TASK_SIZE);
const TASK_SIZE_HI = Number(TASK_SIZE >> 32n);
const TASK_SIZE_LO = Number(TASK_SIZE & 0xffffffffn);
/** Upper half of TASK_SIZE + PAGE_SIZE (2^47): user reads stop there. */
const USER_END_HI = Number((TASK_SIZE + 4096n) >> 32n);

/**
 * copy_from_kernel_nofault_allowed (arch/x86/mm/maccess.c): a kernel read must start at a canonical kernel address
 * (48-bit virtual: 0xffff800000000000 up; below is user space, its guard page, or non-canonical) other than the
 * vsyscall page. The kernel refuses the rest with -ERANGE before touching memory.
 */
export function kernelAllowedAt(hi: number, lo: number): boolean {
  const h = hi >>> 0;
  if (h < CANONICAL_KERNEL_HI) return false;
  return !(h === 0xffffffff && (lo >>> 12) === VSYSCALL_PAGE);
}
/** Upper half of the lowest canonical kernel address with 48-bit virtual addresses. */
const CANONICAL_KERNEL_HI = 0xffff8000;
/** The vsyscall page 0xffffffffff600000's low half, in pages. */
const VSYSCALL_PAGE = 0xff600;

/** copy_from_kernel_nofault: -ERANGE for user or non-canonical addresses, -EFAULT if unreadable; `dst` is zeroed on failure. */
export function copyFromKernel(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  return copyFromKernelAt(kernel, dst, Number(a >> 32n) | 0, Number(a & 0xffffffffn) | 0);
}

/** copy_from_kernel_nofault of the address (hi:lo) given as int32 halves. */
export function copyFromKernelAt(kernel: SimKernel, dst: Uint8Array, hi: number, lo: number): number {
  if (!kernelAllowedAt(hi, lo)) return fail(dst, -Errno.ERANGE);
  return copyAt(kernel, dst, hi, lo);
}

/** copy_from_user_nofault: -EFAULT for kernel addresses or unreadable memory; `dst` is zeroed on failure. */
export function copyFromUser(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  return copyFromUserAt(kernel, dst, Number(a >> 32n) | 0, Number(a & 0xffffffffn) | 0);
}

/** copy_from_user_nofault of the address (hi:lo) given as int32 halves. */
export function copyFromUserAt(kernel: SimKernel, dst: Uint8Array, hi: number, lo: number): number {
  // Below 2^47 the address is an exact double.
  if (hi >>> 0 >= USER_END_HI || (hi >>> 0) * TWO32 + (lo >>> 0) + dst.length > TASK_SIZE_NUM) return fail(dst, -Errno.EFAULT);
  return copyAt(kernel, dst, hi, lo);
}

/** Where the last successful readKernelAt / readUserAt found its bytes: `bytes` from `offset`. */
export const readSource = { bytes: new Uint8Array(0) as Uint8Array, offset: 0 };

/**
 * copy_from_kernel_nofault without the copy: 0 with readSource set to the `size` bytes at (hi:lo),
 * or -errno. Spares the intermediate buffer when the caller copies straight to its destination.
 */
export function readKernelAt(kernel: SimKernel, hi: number, lo: number, size: number): number {
  if (!kernelAllowedAt(hi, lo)) return -Errno.ERANGE;
  return readAt(kernel, hi, lo, size);
}

/** copy_from_user_nofault without the copy (see readKernelAt). */
export function readUserAt(kernel: SimKernel, hi: number, lo: number, size: number): number {
  if (hi >>> 0 >= USER_END_HI || (hi >>> 0) * TWO32 + (lo >>> 0) + size > TASK_SIZE_NUM) return -Errno.EFAULT;
  return readAt(kernel, hi, lo, size);
}

function readAt(kernel: SimKernel, hi: number, lo: number, size: number): number {
  if (size === 0 || kernel.hasFaulting) return readChecked(kernel, hi, lo, size);
  const region = kernel.memory.regions.get(hi | 0);
  const off = (lo >>> 0) - REGION_BASE;
  if (region === undefined || off < 0 || off + size > region.bytes.length) return -Errno.EFAULT;
  readSource.bytes = region.bytes;
  readSource.offset = off;
  return 0;
}

/** readAt's rare cases, out of line (a zero-size read still resolves its address; faulting ranges). */
function readChecked(kernel: SimKernel, hi: number, lo: number, size: number): number {
  const a = join(hi, lo);
  if (!kernel.canRead(a, size)) return -Errno.EFAULT;
  readSource.bytes = kernel.memory.read(a, size);
  readSource.offset = 0;
  return 0;
}

/** The nofault copy once the address space is checked: -EFAULT (zeroed dst) if unreadable. */
function copyAt(kernel: SimKernel, dst: Uint8Array, hi: number, lo: number): number {
  const size = dst.length;
  if (size === 0 || kernel.hasFaulting) {
    // Rare cases keep the general path (a zero-size copy still resolves its address).
    const a = join(hi, lo);
    if (!kernel.canRead(a, size)) return fail(dst, -Errno.EFAULT);
    dst.set(kernel.memory.read(a, size));
    return 0;
  }
  const region = kernel.memory.regions.get(hi | 0);
  const off = (lo >>> 0) - REGION_BASE;
  if (region === undefined || off < 0 || off + size > region.bytes.length) return fail(dst, -Errno.EFAULT);
  dst.set(region.bytes.subarray(off, off + size));
  return 0;
}

/** Byte-at-a-time string copy shared by both spaces: length with NUL, `dst.length` if cut, or -EFAULT. */
function copyString(kernel: SimKernel, dst: Uint8Array, count: number, hi: number, lo: number): number {
  if (kernel.hasFaulting) {
    const a = join(hi, lo);
    for (let n = 0; n < count; n++) {
      const p = a + BigInt(n);
      if (!kernel.canRead(p, 1)) return -Errno.EFAULT;
      const b = kernel.memory.read(p, 1)[0]!;
      dst[n] = b;
      if (b === 0) return n + 1;
    }
  } else {
    // Without faulting ranges a byte is readable while it lies inside the region of the first one.
    const region = kernel.memory.regions.get(hi | 0);
    const off = (lo >>> 0) - REGION_BASE;
    if (region === undefined || off < 0) return -Errno.EFAULT;
    const bytes = region.bytes;
    const avail = bytes.length - off;
    const lim = count < avail ? count : avail;
    for (let n = 0; n < lim; n++) {
      const b = bytes[off + n]!;
      dst[n] = b;
      if (b === 0) return n + 1;
    }
    if (lim < count) return -Errno.EFAULT;
  }
  // Not terminated within count: the kernel keeps count-1 bytes and a NUL.
  dst[count - 1] = 0;
  return count;
}

/**
 * Whether strncpy_from_{user,kernel}_nofault of at most `count` bytes from (hi:lo) would copy
 * exactly `text` and its NUL (returning text.length + 1), checked in place without copying.
 * False means "not known to": the caller copies as usual.
 */
export function sameStringAt(kernel: SimKernel, user: boolean, hi: number, lo: number, count: number, text: Uint8Array): boolean {
  const end = text.length;
  if (end >= count || kernel.hasFaulting) return false;
  if (user ? !isUserAt(hi, lo) : !kernelAllowedAt(hi, lo)) return false;
  const region = kernel.memory.regions.get(hi | 0);
  const off = (lo >>> 0) - REGION_BASE;
  if (region === undefined || off < 0) return false;
  const bytes = region.bytes;
  if (off + end >= bytes.length || bytes[off + end] !== 0) return false;
  for (let n = 0; n < end; n++) if (bytes[off + n] !== text[n]) return false;
  return true;
}

/** strncpy_from_kernel_nofault. */
export function strncpyFromKernel(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  return strncpyFromKernelAt(kernel, dst, Number(a >> 32n) | 0, Number(a & 0xffffffffn) | 0);
}

/** strncpy_from_kernel_nofault of (hi:lo) into the first `count` bytes of `dst`. */
export function strncpyFromKernelAt(kernel: SimKernel, dst: Uint8Array, hi: number, lo: number, count = dst.length): number {
  if (count === 0) return 0;
  if (!kernelAllowedAt(hi, lo)) return -Errno.ERANGE;
  return copyString(kernel, dst, count, hi, lo);
}

/** strncpy_from_user_nofault. */
export function strncpyFromUser(kernel: SimKernel, dst: Uint8Array, src: bigint): number {
  const a = BigInt.asUintN(64, src);
  return strncpyFromUserAt(kernel, dst, Number(a >> 32n) | 0, Number(a & 0xffffffffn) | 0);
}

/** strncpy_from_user_nofault of (hi:lo) into the first `count` bytes of `dst`. */
export function strncpyFromUserAt(kernel: SimKernel, dst: Uint8Array, hi: number, lo: number, count = dst.length): number {
  if (count === 0) return 0;
  if (!isUserAt(hi, lo)) return -Errno.EFAULT;
  return copyString(kernel, dst, count, hi, lo);
}

/** Whether (hi:lo) is below TASK_SIZE. */
export function isUserAt(hi: number, lo: number): boolean {
  const h = hi >>> 0;
  return h < TASK_SIZE_HI || (h === TASK_SIZE_HI && lo >>> 0 < TASK_SIZE_LO);
}

function fail(dst: Uint8Array, err: number): number {
  dst.fill(0);
  return err;
}
