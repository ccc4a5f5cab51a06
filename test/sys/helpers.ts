// Shared pieces of the runtime/sys tests: fd scopes that always close, little-endian packing, skip reasons.
// Takes a Sys; gives `withFds` (closes every fd it handed out, even when the test throws) and byte helpers.

import { missingRoot, type Sys } from "../../runtime/sys/index.js";

/** Skip reason for tests that need the real kernel: only a non-root run may skip them. */
export const needsKernel = { skip: missingRoot() ?? false };

/** Tracks fds and closes all of them, newest first. */
export class FdScope {
  private readonly fds: number[] = [];
  constructor(readonly sys: Sys) {}
  add(fd: number): number {
    this.fds.push(fd);
    return fd;
  }
  closeAll(): void {
    const errors: unknown[] = [];
    for (const fd of this.fds.splice(0).reverse()) {
      try {
        this.sys.close(fd);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  }
}

/** Runs `body` with a scope whose fds are all closed afterwards. */
export async function withFds<T>(sys: Sys, body: (scope: FdScope) => T | Promise<T>): Promise<T> {
  const scope = new FdScope(sys);
  try {
    return await body(scope);
  } finally {
    scope.closeAll();
  }
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.length).getUint32(off, true);
}

export function readU64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(off, true);
}
