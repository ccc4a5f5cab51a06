// Loading tsbpf's own modules from the build's bundle instead of one ES module file at a time.
// Takes the bundle bundle-build.ts wrote into dist/.bundle (each command's modules in one script of module
// factories, and a manifest of the files they came from); gives `require`/`import` over those modules, each
// script compiled from a V8 code cache (code-cache.cts). Node resolves, reads and compiles ~40 files for
// `tsbpf run` and ~70 for `tsbpf compile` otherwise, and compiles their functions again on every run.
// The bundle is used only when every file it came from is unchanged (size and mtime), so a build without
// the bundling step, or an edit, falls back to plain ES modules; TSBPF_NO_BUNDLE=1 forces that.
// This module is on every command's start-up path: node builtins and code-cache.cts only. It is CommonJS so that
// the command's entry point (tsbpf.cts) starts from the bundle without setting up Node's ES module loader.

import * as self from "./bundle.cjs";
import * as codeCache from "../compiler/frontend/code-cache.cjs";
import * as cacheUpkeep from "../compiler/frontend/cache-upkeep.cjs";
import { compileCached } from "../compiler/frontend/code-cache.cjs";
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Bumped when the manifest or the chunk format changes. */
export const BUNDLE_FORMAT = "tsbpf-bundle-3";

/** Modules the bundle does not contain but takes from this (CommonJS) side, so that their state is shared. */
export const PROVIDED: Readonly<Record<string, unknown>> = { "compiler/frontend/code-cache.cjs": codeCache, "compiler/frontend/cache-upkeep.cjs": cacheUpkeep, "cli/bundle.cjs": self };

let openedKey: string | undefined;

/**
 * Names the code of the bundle this process opened (its chunks' content keys, which cover every bundled module),
 * or undefined when it runs plain ES modules: the object cache's key uses it instead of statting every file.
 */
export function bundleKey(): string | undefined {
  return openedKey;
}

export interface Manifest {
  format: string;
  /** Module id (its path under dist/) -> its chunk, and the size and mtime of the file it was built from. */
  modules: Record<string, { chunk: string; size: number; mtimeMs: number }>;
  /** Chunk name -> its script (under .bundle/), a key naming its exact text, and whether that text is ASCII. */
  chunks: Record<string, { file: string; key: string; ascii: boolean }>;
}

/** What a chunk's code defines for each module it holds. */
export type Factory = (require: (spec: string) => unknown, dynamicImport: (spec: string) => Promise<unknown>, exports: Record<string, unknown>, meta: { url: string }) => void;

export interface Bundle {
  /** The exports of a module by its id (path under dist/, e.g. "cli/commands/run.js"). */
  require(id: string): Record<string, unknown>;
  has(id: string): boolean;
}

/** dist/, the root module ids are relative to. */
export const distRoot = (): string => join(__dirname, "../");

/**
 * The bundle of the build in `root` (default: the one this module belongs to), or undefined when there is none,
 * it was built by another format, or any file it came from changed since.
 */
export function openBundle(root = distRoot()): Bundle | undefined {
  if (process.env.TSBPF_NO_BUNDLE) return undefined;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, ".bundle", "manifest.json"), "utf8")) as Manifest;
    if (manifest.format !== BUNDLE_FORMAT) return undefined;
    // Ids are normalised relative paths: concatenation, not path.join (~2 ms for ~130 files).
    const prefix = root.endsWith("/") ? root : `${root}/`;
    for (const [id, m] of Object.entries(manifest.modules)) {
      const s = statSync(prefix + id);
      if (s.size !== m.size || s.mtimeMs !== m.mtimeMs) return undefined;
    }
  } catch {
    return undefined;
  }
  openedKey = Object.entries(manifest.chunks)
    .map(([name, c]) => `${name}:${c.key}`)
    .sort()
    .join(",");
  return new Registry(root, manifest);
}

class Registry implements Bundle {
  private readonly factories = new Map<string, Factory>();
  private readonly instances = new Map<string, Record<string, unknown>>();
  private readonly loadedChunks = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly manifest: Manifest,
  ) {}

  has(id: string): boolean {
    return Object.hasOwn(PROVIDED, id) || Object.hasOwn(this.manifest.modules, id);
  }

  require(id: string): Record<string, unknown> {
    if (Object.hasOwn(PROVIDED, id)) return PROVIDED[id] as Record<string, unknown>;
    const done = this.instances.get(id);
    if (done) return done;
    const entry = this.manifest.modules[id];
    if (!entry) throw new Error(`tsbpf bundle: no module ${id}`);
    if (!this.factories.has(id)) this.loadChunk(entry.chunk);
    const factory = this.factories.get(id);
    if (!factory) throw new Error(`tsbpf bundle: chunk ${entry.chunk} does not define ${id}`);
    const moduleExports: Record<string, unknown> = {};
    this.instances.set(id, moduleExports);
    const file = join(this.root, id);
    let nodeRequire: NodeJS.Require | undefined;
    // The builder wrote each relative specifier of the bundle's modules as the id it names, "/"-prefixed.
    const requireFrom = (spec: string): unknown => {
      if (spec.startsWith("/")) return this.require(spec.slice(1));
      // Most modules require only builtins: no require function of their own for those (~40 µs each).
      if (spec.startsWith("node:")) return process.getBuiltinModule(spec);
      nodeRequire ??= createRequire(file);
      return nodeRequire(spec);
    };
    const importFrom = async (spec: string): Promise<unknown> => {
      // The builder bundled every module a literal relative import() reaches (the "lazy" chunk).
      if (spec.startsWith("/")) return this.require(spec.slice(1));
      // A computed specifier, relative to the module's own file.
      return import(spec.startsWith(".") ? new URL(spec, pathToFileURL(file)).href : spec);
    };
    // import.meta.url on demand: few modules read it, and a file URL costs ~20 µs to build.
    factory(requireFrom, importFrom, moduleExports, {
      get url() {
        return pathToFileURL(file).href;
      },
    });
    return moduleExports;
  }

  private loadChunk(name: string): void {
    if (this.loadedChunks.has(name)) return;
    this.loadedChunks.add(name);
    const chunk = this.manifest.chunks[name];
    if (!chunk) throw new Error(`tsbpf bundle: no chunk ${name}`);
    const file = join(this.root, ".bundle", chunk.file);
    // ASCII decoded as latin1 is the same string in half the time of UTF-8.
    const script = compileCached(readFileSync(file, chunk.ascii ? "latin1" : "utf8"), file, `bundle-${name}`, chunk.key, { refreshable: true });
    const define = (id: string, factory: Factory): void => void this.factories.set(id, factory);
    (script.runInThisContext() as (define: (id: string, factory: Factory) => void) => void)(define);
  }
}
