// C++ functions named as people write them (`app::W::leaf`, `app::over(int)`, `app::*`) rather than by their mangled
// symbols (`_ZN3app1W4leafEi`): a uprobe's function and a `tsbpf list` pattern holding `::` or `(` are matched
// against the binary's function symbols as c++filt shows them (demangle.ts).
// Takes c++filt's text of a symbol ("int app::twice<int>(int)"); gives its parts (the qualified name without a
// template's return type, and the parameter list) and whether a name, a signature or a glob of either matches it.

import { globRegExp, isGlob } from "../../compiler/glob.js";

/** Whether a uprobe's function is a C++ name to match demangled: it holds `::` or a parameter list. */
export const isCxxName = (func: string): boolean => func.includes("::") || func.includes("(");

/**
 * c++filt's text of a function parted: `name` ("app::twice<int>", a template's return type left out) and `params`
 * ("(int)", with what follows it: " const"); undefined for text that is no function's (a C name, a clone's
 * `[clone .cold]` part, which is not the function).
 */
export function cxxParts(demangled: string): { name: string; params: string } | undefined {
  if (demangled.includes(" [clone ")) return undefined;
  const close = demangled.lastIndexOf(")");
  if (close < 0) return undefined;
  let depth = 0;
  let open = -1;
  for (let i = close; i >= 0; i--) {
    if (demangled[i] === ")") depth++;
    else if (demangled[i] === "(" && --depth === 0) {
      open = i;
      break;
    }
  }
  if (open <= 0) return undefined;
  let name = demangled.slice(0, open);
  // Only a template function's text starts with its return type ("int app::twice<int>"): what precedes the last
  // space outside <...> and (...) before the name's own template arguments.
  if (name.endsWith(">") && !/operator\s*\S*$/.test(name)) {
    let level = 0;
    for (let i = name.length - 1; i >= 0; i--) {
      const c = name[i];
      if (c === ">" || c === ")") level++;
      else if (c === "<" || c === "(") level--;
      else if (c === " " && level === 0) {
        name = name.slice(i + 1);
        break;
      }
    }
  }
  return { name, params: demangled.slice(open) };
}

/** A function as a uprobe names it: its qualified name and parameters, without a template's return type. */
export function cxxSignature(demangled: string): string {
  const parts = cxxParts(demangled);
  return parts ? parts.name + parts.params : demangled;
}

const squeeze = (s: string): string => s.replace(/\s+/g, "");

/** `app::twice` of "app::twice<int>": the name without its last template arguments. */
const untemplated = (name: string): string | undefined => {
  if (!name.endsWith(">")) return undefined;
  let level = 0;
  for (let i = name.length - 1; i >= 0; i--) {
    if (name[i] === ">") level++;
    else if (name[i] === "<" && --level === 0) return name.slice(0, i);
  }
  return undefined;
};

/**
 * Whether c++filt's text of a function is what `pattern` names: `app::W::leaf` (its name, any parameters; a
 * template's instances by the name without their arguments: `app::twice`), `app::over(int)` (the name and parameter
 * list, spaces aside; `app::twice(int)` too), or a glob of either (`app::W::*`, `app::over(*)`).
 */
export function cxxMatcher(pattern: string): (demangled: string) => boolean {
  const withParams = pattern.includes("(");
  const wanted = squeeze(pattern);
  const glob = isGlob(pattern) ? globRegExp(wanted) : undefined;
  return (demangled) => {
    const parts = cxxParts(demangled);
    const bare = parts && untemplated(parts.name);
    const candidates = !parts ? [demangled] : withParams ? [parts.name + parts.params, demangled, bare && bare + parts.params] : [parts.name, bare];
    return candidates.some((c) => c !== undefined && (glob ? glob.test(squeeze(c)) : squeeze(c) === wanted));
  };
}
