// What loading an object looks up in the running kernel's BTF: its CO-RE relocations' resolutions and the BTF ids
// of the kernel functions or tracepoints its tp_btf/fentry/... programs hook. The kernel's BTF cannot change while it
// runs and is the same for every boot of one kernel build, so a store can keep them between runs of one object
// (the command line keeps them beside its object cache): a cached run then never parses vmlinux's BTF, ~20 ms.
// A store names the kernel it was filled on (release, build version, BTF size) and is a miss on any other; any
// problem reading or writing it only costs the lookups.

import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { release, version } from "node:os";
import type { CoreResult, CoreResultError, CoreResultOk } from "../../compiler/btf/core.js";
import type { CoreResolutions } from "./core.js";
import { VMLINUX_BTF } from "../sys/btf-file.js";

export interface BtfResolutions {
  /** Absent when the object has no CO-RE relocations. */
  core?: CoreResolutions;
  /** Program name → the BTF id its hook attaches to. */
  hooks: ReadonlyMap<string, number>;
}

export interface ResolutionStore {
  read(): BtfResolutions | undefined;
  write(resolutions: BtfResolutions): void;
}

/** Bumped when the file's layout changes. */
const FORMAT = "tsbpf-btf-resolutions-2"; // 2: results carry the local field size

/** The running kernel, as far as its BTF goes: undefined without BTF (nothing to keep then). */
function kernelStamp(): string | undefined {
  const btf = statSync(VMLINUX_BTF, { throwIfNoEntry: false });
  return btf ? `${release()} ${version()} ${btf.size}` : undefined;
}

interface Stored {
  format: string;
  kernel: string;
  core?: [section: string, slots: [slot: number, result: StoredResult][]][];
  hooks: [program: string, id: number][];
}

/** A result with its bigints as decimal strings (JSON has no bigints). */
type StoredResult = CoreResultError | (Omit<CoreResultOk, "value" | "localValue"> & { value: string; localValue?: string });

/** A store in one JSON file of an existing directory (written whole, through a rename: parallel runs never read half of it). */
export function fileResolutionStore(path: string): ResolutionStore {
  return {
    read() {
      try {
        const stored = JSON.parse(readFileSync(path, "latin1")) as Stored;
        if (stored.format !== FORMAT || stored.kernel !== kernelStamp()) return undefined;
        return {
          core: stored.core && new Map(stored.core.map(([section, slots]) => [section, new Map(slots.map(([slot, r]) => [slot, decodeResult(r)]))])),
          hooks: new Map(stored.hooks),
        };
      } catch {
        return undefined;
      }
    },
    write(resolutions) {
      const kernel = kernelStamp();
      if (kernel === undefined) return;
      const stored: Stored = {
        format: FORMAT,
        kernel,
        core: resolutions.core && [...resolutions.core].map(([section, slots]) => [section, [...slots].map(([slot, r]) => [slot, encodeResult(r)])]),
        hooks: [...resolutions.hooks],
      };
      const temporary = `${path}.${process.pid}.tmp`;
      try {
        writeFileSync(temporary, JSON.stringify(stored));
        renameSync(temporary, path);
      } catch {
        try {
          unlinkSync(temporary);
        } catch {
          // never written
        }
      }
    },
  };
}

function encodeResult(r: CoreResult): StoredResult {
  if (!r.ok) return r;
  return { ...r, value: String(r.value), localValue: r.localValue === undefined ? undefined : String(r.localValue) };
}

function decodeResult(r: StoredResult): CoreResult {
  if (!r.ok) return r;
  return { ...r, value: BigInt(r.value), localValue: r.localValue === undefined ? undefined : BigInt(r.localValue) };
}
