// Indirect functions (STT_GNU_IFUNC: glibc's memcpy, strlen, strcmp, ...). Such a symbol's address is a resolver
// that the dynamic linker runs once, when a program binds the name, to pick the implementation for this CPU; a
// uprobe there fires at binding, not at calls. Takes a library's path and a symbol; gives the file offset of the
// implementation the resolver picks on this machine, by asking this process's dynamic linker (dlsym runs the
// resolver), for libraries this process has loaded already: RTLD_NOLOAD, so that no library's constructors run in
// a root process that holds BPF objects.

import { readFileSync, realpathSync, statSync } from "node:fs";
import { native } from "../sys/native.js";

const RTLD_LAZY = 0x1;
const RTLD_NOLOAD = 0x4;

interface DynamicLinker {
  dlopen: (path: string, mode: number) => unknown;
  dlsym: (handle: unknown, name: string) => unknown;
  dlvsym: (handle: unknown, name: string, version: string) => unknown;
  dlclose: (handle: unknown) => number;
  address: (pointer: unknown) => bigint;
}

let linker: DynamicLinker | undefined;

function dynamicLinker(): DynamicLinker {
  if (!linker) {
    const { koffi, libc } = native();
    linker = {
      dlopen: libc.func("void *dlopen(const char *path, int mode)") as DynamicLinker["dlopen"],
      dlsym: libc.func("void *dlsym(void *handle, const char *name)") as DynamicLinker["dlsym"],
      dlvsym: libc.func("void *dlvsym(void *handle, const char *name, const char *version)") as DynamicLinker["dlvsym"],
      dlclose: libc.func("int dlclose(void *handle)") as DynamicLinker["dlclose"],
      address: (pointer) => koffi.address(pointer),
    };
  }
  return linker;
}

/**
 * The file offset in the library at `path` of the function its indirect symbol `name` (of `version`, else the
 * default one) resolves to on this machine, or undefined when this process has not loaded that library.
 */
export function indirectFunctionOffset(path: string, name: string, version: string | undefined): number | undefined {
  const dl = dynamicLinker();
  const handle = dl.dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return undefined;
  let address: bigint;
  try {
    const pointer = version === undefined ? dl.dlsym(handle, name) : dl.dlvsym(handle, name, version);
    if (!pointer) return undefined;
    address = dl.address(pointer);
  } finally {
    dl.dlclose(handle);
  }
  return mappedFileOffset(path, address);
}

/** Where `address` of this process lies in the file at `path`, from /proc/self/maps; undefined outside its mappings. */
function mappedFileOffset(path: string, address: bigint): number | undefined {
  const { ino } = statSync(path);
  const real = realpathSync(path);
  // start-end perms offset dev inode path; the file by its inode, or by its path where a layered filesystem shows another
  for (const line of readFileSync("/proc/self/maps", "latin1").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m || (Number(m[4]) !== ino && m[5] !== real)) continue;
    const start = BigInt(`0x${m[1]}`);
    if (address >= start && address < BigInt(`0x${m[2]}`)) return Number(address - start + BigInt(`0x${m[3]}`));
  }
  return undefined;
}
