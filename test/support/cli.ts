// How tests start the tsbpf command: from the build (dist/cli/tsbpf.cjs, ~0.25 s of CPU a start) when it is as new as
// every source file it was built from, else from the sources through tsx (~1 s: each start transforms and loads ~80
// modules), so that a test never runs code older than the tree it tests. Node arguments before the command's own.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.c?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield path;
  }
}

/** Whether dist/ holds a build of every source file under cli/, compiler/ and runtime/, none edited since. */
function builtIsCurrent(): boolean {
  try {
    for (const dir of ["cli", "compiler", "runtime"]) {
      for (const source of sources(join(ROOT, dir))) {
        const built = join(ROOT, "dist", relative(ROOT, source)).replace(/\.cts$/, ".cjs").replace(/\.ts$/, ".js");
        if (statSync(built).mtimeMs < statSync(source).mtimeMs) return false;
      }
    }
    return true;
  } catch {
    return false; // no build, or a source without its built file
  }
}

export const CLI: readonly string[] = builtIsCurrent() ? [join(ROOT, "dist/cli/tsbpf.cjs")] : ["--import", "tsx", join(ROOT, "cli/main.ts")];
