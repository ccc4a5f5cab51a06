// The compiled-object cache of `tsbpf run`: an unchanged probe file loads its object without the compiler.
// Takes a probe file's path and text; gives a content-hash key, the cache directory, lookups and atomic stores.
// The key covers everything the object depends on: the source text and the path it is compiled under (line info
// names it), the compiler's own files and TypeScript's package.json (by size and mtime, so a rebuild or upgrade
// misses), and the running kernel (tracepoint formats and BTF types come from it). This module must stay cheap to
// import: it is on the path that skips TypeScript (so it hashes with MurmurHash3 rather than node:crypto, whose
// ~40 internal modules cost 10-40 ms to load; the key guards against edits, not adversaries).
import { appendFileSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, release, version } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleKey } from "./bundle.cjs";
import { makeDirectory } from "../compiler/frontend/code-cache.cjs";
import { markUsed, trimIfDue } from "../compiler/frontend/cache-upkeep.cjs";
import { abandonedEntries } from "../runtime/loader/trace.js";
import { fileResolutionStore, type ResolutionStore } from "../runtime/loader/btf-resolutions.js";

/** Bumped when the key's recipe or the file layout changes. */
const FORMAT = "tsbpf-object-cache-2";

/**
 * Where objects are cached: $XDG_CACHE_HOME/tsbpf when XDG_CACHE_HOME is set; otherwise node_modules/.cache/tsbpf
 * in the nearest directory above the probe file that has node_modules (as babel and eslint cache); otherwise
 * ~/.cache/tsbpf.
 */
export function cacheDir(probeFile: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "tsbpf");
  for (let dir = dirname(resolve(probeFile)); ; dir = dirname(dir)) {
    if (isDirectory(join(dir, "node_modules"))) return join(dir, "node_modules", ".cache", "tsbpf");
    if (dirname(dir) === dir) break;
  }
  return join(homedir(), ".cache", "tsbpf");
}

/** The cache key of an object compiled from `text` under the name `file` by this compiler on this kernel. */
export function objectKey(file: string, text: string | Uint8Array): string {
  const head = Buffer.from(`${FORMAT}\0${compilerFingerprint()}\0${process.arch}\0${release()}\0${version()}\0${file}\0`);
  return murmur3x86_128(Buffer.concat([head, typeof text === "string" ? Buffer.from(text) : text]));
}

export const objectPath = (dir: string, key: string): string => join(dir, `${key}.bpf.o`);

/**
 * Where an object's kernel BTF lookups are kept between its loads (runtime/loader/btf-resolutions.ts): `key` gives
 * its objectKey, or for a prebuilt object the hash of its bytes; it is asked for only if the object needs the
 * kernel's BTF (the loader reads the store only then).
 */
export function resolutionStore(dir: string, key: () => string): ResolutionStore {
  let file: { path: string; store: ResolutionStore } | undefined;
  const store = () => {
    if (!file) {
      const path = join(dir, `${key()}.btf.json`);
      file = { path, store: fileResolutionStore(path) };
    }
    return file;
  };
  return {
    read() {
      const { path, store: s } = store();
      const resolutions = s.read();
      if (resolutions) markUsed(path);
      return resolutions;
    },
    write(resolutions) {
      try {
        makeDirectory(dir);
      } catch {
        return; // not writable: the next load looks them up again
      }
      store().store.write(resolutions);
    },
  };
}

/**
 * The cached object's bytes, or undefined on a miss: also for an entry that cannot be read or is not the object that
 * was stored (a disk error, an edit by hand: its seal does not match), which is removed and so compiled again.
 */
export function readCached(dir: string, key: string): Uint8Array | undefined {
  const path = objectPath(dir, key);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  const object = unsealed(bytes);
  if (object && wholeObject(object)) {
    markUsed(path);
    return object;
  }
  try {
    unlinkSync(path);
  } catch {
    // another run removed it, or the directory is not ours to change: compiled again either way
  }
  return undefined;
}

/**
 * A stored object ends with a seal, `\ntsbpf-seal:` and the hash of the bytes before it: an ELF file's readers ignore
 * what follows its contents, so the entry stays an object `tsbpf load` and bpftool take.
 */
const SEAL = "\ntsbpf-seal:";
const SEAL_BYTES = SEAL.length + 32;
const sealOf = (object: Uint8Array): string => `${SEAL}${murmur3x86_128(object)}`;

/** The object a sealed entry holds, or undefined when the seal is missing or does not match its bytes. */
function unsealed(entry: Buffer): Buffer | undefined {
  if (entry.length < SEAL_BYTES) return undefined;
  const object = entry.subarray(0, entry.length - SEAL_BYTES);
  return entry.subarray(object.length).toString("latin1") === sealOf(object) ? object : undefined;
}

/** Whether bytes are an ELF64 file as long as its section header table says (what the compiler writes). */
function wholeObject(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return false;
  const sectionHeaders = Number(b.readBigUInt64LE(0x28)) + b.readUInt16LE(0x3a) * b.readUInt16LE(0x3c);
  return sectionHeaders <= b.length;
}

/**
 * A temporary path in the cache directory for the compiler to write to, then `commit()` to move it into place
 * atomically (parallel runs never read half an object); undefined when the directory cannot be written.
 */
export function reserve(dir: string, key: string): { path: string; commit(): void; discard(): void } | undefined {
  try {
    makeDirectory(dir);
  } catch {
    return undefined;
  }
  removeAbandoned(dir);
  trimAtExit(dir);
  const path = `${objectPath(dir, key)}.${process.pid}.tmp`;
  try {
    writeFileSync(path, ""); // proves the directory is writable before the compiler runs
  } catch {
    return undefined;
  }
  return {
    path,
    commit: () => {
      appendFileSync(path, sealOf(readFileSync(path)));
      renameSync(path, objectPath(dir, key));
    },
    discard: () => {
      try {
        unlinkSync(path);
      } catch {
        // nothing was written
      }
    },
  };
}

/** Stores an object as a run would have compiled it (sealed, atomically): for tools that fill a cache ahead of runs. */
export function storeCached(dir: string, key: string, object: Uint8Array): void {
  makeDirectory(dir);
  const path = `${objectPath(dir, key)}.${process.pid}.tmp`;
  writeFileSync(path, Buffer.concat([object, Buffer.from(sealOf(object), "latin1")]));
  renameSync(path, objectPath(dir, key));
}

const trimmed = new Set<string>();

/**
 * Trims a directory this process writes an object to of the objects unused for five days (cache-upkeep.cts), at
 * most once a day: at exit, off the way to the first event.
 */
function trimAtExit(dir: string): void {
  if (!trimmed.size) process.once("exit", () => trimmed.forEach((d) => trimIfDue(d)));
  trimmed.add(dir);
}

/** Removes the temporary objects of runs that were killed while compiling (Ctrl-C, SIGKILL): their process is gone. */
function removeAbandoned(dir: string): void {
  for (const name of abandonedEntries(dir, (n) => Number(/\.bpf\.o\.(\d+)\.tmp$/.exec(n)?.[1] ?? 0))) {
    try {
      unlinkSync(join(dir, name));
    } catch {
      // another run removed it first
    }
  }
}

let fingerprint: string | undefined;

/**
 * Identifies the compiler without loading it: the path, size and mtime of every file under compiler/ (built .js
 * or, under tsx, .ts) and of TypeScript's package.json. Stats, not contents: ~1 ms instead of ~15 ms, and an edit
 * that keeps both size and mtime is not a real case. A process running from the build's bundle (which checked
 * every bundled file as it opened) names the bundle's code instead, and stats only TypeScript.
 */
export function compilerFingerprint(): string {
  if (fingerprint) return fingerprint;
  const hash: string[] = [];
  const bundled = bundleKey();
  if (bundled) {
    hash.push(`bundle ${bundled}\n`);
    statTypescript(hash);
    return (fingerprint = murmur3x86_128(Buffer.from(hash.join(""))));
  }
  const root = fileURLToPath(new URL("../compiler/", import.meta.url));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(js|ts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) statInto(hash, path);
    }
  };
  walk(root);
  statTypescript(hash);
  return (fingerprint = murmur3x86_128(Buffer.from(hash.join(""))));
}

/** TypeScript's package.json (its version) as require("typescript") finds it, looked up by hand: resolving costs ~2 ms. */
function statTypescript(hash: string[]): void {
  for (const dir of createRequire(import.meta.url).resolve.paths("typescript") ?? []) {
    const path = join(dir, "typescript", "package.json");
    try {
      // No exception for the node_modules that lack it: an ENOENT error object costs more than the stat.
      const s = statSync(path, { throwIfNoEntry: false });
      if (s) return statInto(hash, path, s);
    } catch {
      // not ours to read: look further up
    }
  }
  hash.push("no typescript");
}

function statInto(hash: string[], path: string, s: { size: number; mtimeMs: number } = statSync(path)): void {
  hash.push(`${path}\0${s.size}\0${s.mtimeMs}\n`);
}

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
const fmix = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};
const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;
const mixK = (k: number, a: number, r: number, b: number): number => Math.imul(rotl(Math.imul(k, a), r), b);

/** MurmurHash3_x86_128 (Austin Appleby's public-domain algorithm), seed 0, as 32 hex digits (h1..h4, each big-endian). */
export function murmur3x86_128(data: Uint8Array): string {
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  const len = data.length;
  const view = new DataView(data.buffer, data.byteOffset, len);
  const end = len & ~15;
  for (let i = 0; i < end; i += 16) {
    h1 ^= mixK(view.getUint32(i, true), C1, 15, C2);
    h1 = (Math.imul(((rotl(h1, 19) + h2) | 0), 5) + 0x561ccd1b) | 0;
    h2 ^= mixK(view.getUint32(i + 4, true), C2, 16, C3);
    h2 = (Math.imul(((rotl(h2, 17) + h3) | 0), 5) + 0x0bcaa747) | 0;
    h3 ^= mixK(view.getUint32(i + 8, true), C3, 17, C4);
    h3 = (Math.imul(((rotl(h3, 15) + h4) | 0), 5) + 0x96cd1c35) | 0;
    h4 ^= mixK(view.getUint32(i + 12, true), C4, 18, C1);
    h4 = (Math.imul(((rotl(h4, 13) + h1) | 0), 5) + 0x32ac3b17) | 0;
  }
  const rest = len & 15;
  if (rest > 0) {
    const k = [0, 0, 0, 0];
    for (let i = 0; i < rest; i++) k[i >> 2]! |= data[end + i]! << ((i & 3) * 8);
    if (rest > 12) h4 ^= mixK(k[3]!, C4, 18, C1);
    if (rest > 8) h3 ^= mixK(k[2]!, C3, 17, C4);
    if (rest > 4) h2 ^= mixK(k[1]!, C2, 16, C3);
    h1 ^= mixK(k[0]!, C1, 15, C2);
  }
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, "0")).join("");
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false; // not ours to read
  }
}
