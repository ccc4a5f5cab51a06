// C++ names as people read them (`app::leaf(int)`, not `_ZN3app4leafEi`), as bpftrace prints user stack frames:
// through binutils' c++filt, which Linux systems with a compiler toolchain have. Without it, names stay mangled.
// Takes a symbol name; gives it demangled. Each distinct name is demangled once (a process start, ~2 ms), and only
// names in the Itanium C++ ABI's form (`_Z...`): a stack's C frames cost nothing.

const demangled = new Map<string, string>();
let unavailable = false;

export function demangle(name: string): string {
  if (!name.startsWith("_Z") || unavailable) return name;
  const known = demangled.get(name);
  if (known !== undefined) return known;
  const { spawnSync } = process.getBuiltinModule("node:child_process") as typeof import("node:child_process");
  const r = spawnSync("c++filt", ["--", name], { encoding: "utf8", timeout: 5000 });
  if (r.error) {
    unavailable = true;
    return name;
  }
  const readable = r.status === 0 ? r.stdout.trim() || name : name;
  demangled.set(name, readable);
  return readable;
}

/**
 * `names` demangled through one c++filt, for a binary's whole symbol table (a uprobe on `app::W::leaf` matches it
 * against every function's name); undefined where c++filt cannot be run.
 */
export function demangleAll(names: readonly string[]): string[] | undefined {
  const wanted = [...new Set(names.filter((n) => n.startsWith("_Z") && !demangled.has(n)))];
  if (wanted.length && !unavailable) {
    const { spawnSync } = process.getBuiltinModule("node:child_process") as typeof import("node:child_process");
    const r = spawnSync("c++filt", [], { input: `${wanted.join("\n")}\n`, encoding: "utf8", timeout: 30_000, maxBuffer: 256 << 20 });
    if (r.error) unavailable = true;
    else if (r.status === 0) {
      const lines = r.stdout.split("\n");
      wanted.forEach((n, i) => demangled.set(n, lines[i]?.trim() || n));
    }
  }
  if (unavailable && names.some((n) => n.startsWith("_Z"))) return undefined;
  return names.map((n) => demangled.get(n) ?? n);
}
