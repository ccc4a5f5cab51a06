// koffi (the FFI library) and libc, loaded on first use, for linux.ts's syscalls and for read-only file mappings.
// Takes nothing at import; gives the koffi module, libc's handle, and mapReadOnly(). A module of its own so that
// the compiler can map the kernel's BTF (btf-file.ts) without loading the loader's syscall layer.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { MapMem, Prot } from "./constants.js";
import { SysError } from "./sys.js";

export type Koffi = typeof import("koffi");
export type KoffiLib = ReturnType<Koffi["load"]>;

interface Native {
  koffi: Koffi;
  libc: KoffiLib;
  mmap: (...args: unknown[]) => unknown;
}

let loaded: Native | undefined;

/** koffi and libc, loaded with require so that the first syscall can stay synchronous. */
export function native(): Native {
  if (!loaded) {
    const koffi = loadKoffi();
    const libc = koffi.load("libc.so.6");
    loaded = { koffi, libc, mmap: libc.func("mmap", "void *", ["uint64", "size_t", "int", "int", "int", "int64"]) };
  }
  return loaded;
}

/**
 * koffi. Its entry point picks the native module by reading the node binary's ELF header (glibc or musl) and
 * probing paths, which costs a `tsbpf run` 10-20 ms of its start; on glibc Linux the module is required from
 * koffi's platform package directly when it is the build of the installed koffi. Both are looked up along the
 * node_modules search path by hand: resolving "koffi" through its package.json "exports" loads Node's ES module
 * resolver, 4-5 ms more. Anything else (another layout, musl, where the glibc build fails to load, a version
 * mismatch) takes koffi's own entry point.
 */
function loadKoffi(): Koffi {
  const require = createRequire(import.meta.url);
  const platformModule = `@koromix/koffi-${process.platform}-${process.arch}/${process.platform}_${process.arch}/koffi.node`;
  // existsSync before each read: the error objects of failed lookups cost more than the lookups.
  for (const dir of require.resolve.paths("koffi") ?? []) {
    const pkg = join(dir, "koffi", "package.json");
    if (!existsSync(pkg)) continue;
    try {
      const { version } = JSON.parse(readFileSync(pkg, "utf8")) as { version: string };
      // Where koffi's own require would find its platform package: its node_modules, then beside it.
      const path = [join(dir, "koffi", "node_modules", platformModule), join(dir, platformModule)].find((p) => existsSync(p));
      const direct = path === undefined ? undefined : (require(path) as Koffi & { version?: string });
      if (direct?.version === version) return direct;
    } catch {
      // not this layout, or a build that does not load here
    }
    break; // the koffi that require("koffi") loads is this one
  }
  return require("koffi") as Koffi;
}

/**
 * A private read-only mapping of `length` bytes of `fd` from its start, or an exception. The mapping is never
 * unmapped: for files that stay as they are for the process's life (the kernel's BTF), read through a cache.
 */
export function mapReadOnly(fd: number, length: number): Uint8Array {
  const { koffi, mmap } = native();
  const p = mmap(0n, length, Prot.READ, MapMem.PRIVATE, fd, 0);
  const e = koffi.errno();
  const addr = p === null ? 0n : typeof p === "bigint" ? p : koffi.address(p);
  if (addr === 0n || addr === 0xffffffffffffffffn) throw new SysError("mmap", e);
  return new Uint8Array(koffi.view(p, length));
}
