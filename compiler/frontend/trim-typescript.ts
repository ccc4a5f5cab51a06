// The part of TypeScript a type check runs, cut from its typescript.js: a cold compile spends most of
// its time loading TypeScript (reading the 9 MB file, its code cache, its module body), and that time
// follows the file's size, not only what runs.
// Takes typescript.js's text; gives a text that defines the same module without the language service,
// tsserver, the typings installer, the emit transforms, build mode and the watch builder (~40% of the
// file), or undefined when the file is not laid out as this expects (another TypeScript version's
// bundle), in which case the whole file is loaded.
// typescript.js is one esbuild bundle: each source file of TypeScript is a section that starts with a
// "// src/<path>" comment line, and the sections share one scope, so a dropped section's functions are
// only missed if something calls them. What is kept was found by looking for every use of a dropped
// section's top-level names in the kept ones: the remaining uses are in emit, watch and build paths a
// check never takes. compiler/index.ts still compiles again with the whole of TypeScript if the cut
// one throws.

/** Sections a type check does not run. */
const DROPPED = /^src\/(?:services|server|jsTyping|typingsInstallerCore|deprecatedCompat)\/|^src\/compiler\/(?:transformers\/|builder|resolutionCache|watchPublic|tsbuild|executeCommandLine)/;

/**
 * Kept although under a dropped directory: services.ts gives parsed nodes their methods (`getStart`,
 * `getText`), with the two it needs, and the checker calls helpers of the transform utilities.
 */
const KEPT = /^src\/services\/(?:types|utilities|services)\.ts$|^src\/compiler\/transformers\/(?:utilities|namedEvaluation|classThis)\.ts$/;

/** What must be there for the cut to be understood; every one of them appears once in TypeScript 5.x-6.x. */
const EXPORTS = "__export(typescript_exports, {";
const HELPER = "var __copyProps =";
const REQUIRED_SECTIONS = ["src/compiler/checker.ts", "src/compiler/program.ts", "src/services/services.ts", "src/typescript/typescript.ts"];

/**
 * Exports defined when first read. esbuild defines the module's ~2,250 exports as getters one by one, which
 * took ~14 ms of every start; a compile reads fewer than a hundred of them.
 */
const LAZY_EXPORT = `var __exportLazy = (target, all) => {
  Object.setPrototypeOf(target, new Proxy(Object.create(null), {
    get(_, name) { const get = all[name]; if (get === undefined) return undefined; __defProp(target, name, { get, enumerable: true }); return get(); },
    has(_, name) { return name in all; },
  }));
};
`;

export function trimTypescript(source: string): string | undefined {
  if (count(source, EXPORTS) !== 1 || count(source, HELPER) !== 1) return undefined;
  const sections = new Set<string>();
  const kept: string[] = [];
  let keep = true;
  for (const line of source.split("\n")) {
    if (line.startsWith("// src/")) {
      const section = line.slice(3);
      sections.add(section);
      keep = !DROPPED.test(section) || KEPT.test(section);
    }
    if (keep) kept.push(line);
  }
  if (!REQUIRED_SECTIONS.every((s) => sections.has(s))) return undefined;
  return kept.join("\n").replace(HELPER, LAZY_EXPORT + HELPER).replace(EXPORTS, "__exportLazy(typescript_exports, {");
}

function count(text: string, part: string): number {
  let n = 0;
  for (let i = text.indexOf(part); i !== -1; i = text.indexOf(part, i + part.length)) n++;
  return n;
}
