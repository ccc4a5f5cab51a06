// Reading BTF files, the kernel's own mapped rather than read. Used by the loader (CO-RE relocations) and the
// compiler (kernel struct layouts, "tsbpf/kernel" names, `tsbpf btf`).
// Takes a path; gives its bytes. Imports only native.ts of runtime/sys, so the compiler loads no syscall layer.

import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { mapReadOnly } from "./native.js";

/** The running kernel's BTF. */
export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

/**
 * The bytes of a BTF file. The kernel's own (/sys/kernel/btf/vmlinux, ~5 MB) is mapped read-only where the
 * kernel allows it (Linux 6.15 and later): sysfs hands it out a page per read(2), 15-25 ms for the whole,
 * against ~1.5 ms mapped (koffi's first load included: ~3 ms). Other files, and kernels that refuse the
 * mapping, are read.
 */
export function readBtfFile(path: string): Buffer {
  if (path === VMLINUX_BTF) {
    let fd: number | undefined;
    try {
      fd = openSync(path, "r");
      const size = fstatSync(fd).size;
      if (size > 0) {
        const mapped = mapReadOnly(fd, size);
        return Buffer.from(mapped.buffer, mapped.byteOffset, mapped.length);
      }
    } catch {
      // no mapping here (an older kernel, no koffi): read it
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return readFileSync(path);
}
