// Maps pinned by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`), as libbpf pins them: at <pin root>/<map name>,
// the root /sys/fs/bpf unless the caller names another. Takes a `Sys`, a map spec and the shape it would be
// created with; gives the path, the fd of a map already pinned there when it matches the definition (reused
// instead of created, and left as it is), or a `LoadError` that says what differs and how to remove the pin.
// Pins outlive the process; only a failed load removes the pins it made itself.

import { mapTypeName } from "../sys/constants.js";
import { SysError, type Sys } from "../sys/sys.js";
import { LoadError } from "./errors.js";
import type { MapShape, MapSpec } from "./object.js";

/** libbpf's default pin root. */
export const DEFAULT_PIN_ROOT = "/sys/fs/bpf";

/** Where a map pinned by name lives: <root>/<the variable's name>. */
export function pinPath(map: MapSpec, root: string = DEFAULT_PIN_ROOT): string {
  return `${root.replace(/\/+$/, "")}/${map.name}`;
}

/**
 * The fd of the map pinned at `path` when its type, sizes, entries and flags are `shape`'s; undefined when
 * nothing is pinned there. A map that differs, or something other than a map, is a LoadError.
 */
export function reusePinned(sys: Sys, map: MapSpec, path: string, shape: MapShape): number | undefined {
  let fd: number;
  try {
    fd = sys.objGet(path);
  } catch (e) {
    if (e instanceof SysError && e.code === "ENOENT") return undefined;
    throw pinError(map, path, `cannot open the pin (${e instanceof SysError ? e.code : String(e)})`, e);
  }
  let differences: string[];
  try {
    const info = sys.mapInfo(fd);
    const fields: [string, number | string, number | string][] = [
      ["type", typeName(info.type), typeName(shape.type)],
      ["key_size", info.keySize, shape.keySize],
      ["value_size", info.valueSize, shape.valueSize],
      ["max_entries", info.maxEntries, shape.maxEntries],
      ["map_flags", info.flags, shape.flags],
    ];
    differences = fields.filter(([, pinned, wanted]) => pinned !== wanted).map(([what, pinned, wanted]) => `${what} ${pinned} there, ${wanted} here`);
  } catch (e) {
    sys.close(fd);
    // OBJ_GET_INFO_BY_FD on a program or link fd gives EINVAL.
    throw pinError(map, path, `what is pinned there is not a map (${e instanceof SysError ? e.code : String(e)})`, e);
  }
  if (differences.length === 0) return fd;
  sys.close(fd);
  throw pinError(map, path, `the map pinned there differs from the definition (${differences.join("; ")})`);
}

/** Pins a map just created; a pin that appeared since the lookup (another loader racing) is an error too. */
export function pinMap(sys: Sys, map: MapSpec, fd: number, path: string): void {
  try {
    sys.objPin(fd, path);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.code === "EEXIST") throw pinError(map, path, "another map was pinned there meanwhile", e);
    const why = e.code === "ENOENT" ? `${path.slice(0, path.lastIndexOf("/")) || "/"} does not exist (is bpffs mounted there?)` : e.code;
    throw new LoadError(`map ${map.name} is pinned by name (LIBBPF_PIN_BY_NAME), but pinning it at ${path} failed: ${why}`, map.name, why, "", e.code, { cause: e });
  }
}

const typeName = (type: number): string => mapTypeName(type) ?? String(type);

function pinError(map: MapSpec, path: string, why: string, cause?: unknown): LoadError {
  const message = `map ${map.name} is pinned by name (LIBBPF_PIN_BY_NAME) at ${path}, but ${why}; remove the pin (rm ${path}) to create the map afresh, or rename the map`;
  return new LoadError(message, map.name, why, "", cause instanceof SysError ? cause.code : "EEXIST", { cause });
}
