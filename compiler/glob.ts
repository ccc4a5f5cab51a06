// Shell-style globs in probe names, as bpftrace takes them (`tracepoint:syscalls:sys_enter_*`, `uprobe:BIN:read*`).
// Takes a name that may hold `*` (any run of characters) and `?` (one character); gives whether it is a glob and
// the RegExp matching exactly the names it stands for.

/** Whether `name` has a wildcard in it. */
export const isGlob = (name: string): boolean => /[*?]/.test(name);

/** A `*`/`?` glob as a RegExp matching the whole string. */
export function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}
