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
