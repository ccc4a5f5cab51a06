// Initial values of program arrays and maps of maps (`.values = { [1] = &prog }` in a `.maps` definition),
// written as libbpf writes them: a map's slots once every map exists, a program array's once every program is
// loaded. Takes a `LoadedObject`; writes each target's fd at its slot's key, and gives a `LoadError` naming the
// slot when the kernel refuses (an inner map unlike the template, a program of another type).

import { MapType } from "../sys/constants.js";
import { SysError } from "../sys/sys.js";
import { LoadError } from "./errors.js";
import type { LoadedObject } from "./load.js";

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/**
 * Fills the slots whose targets are `kind`: maps of maps (not one reused from a pin, which keeps what it holds,
 * as with libbpf) or program arrays. A program left out of the load leaves its slot empty, with a warning.
 */
export function fillSlots(loaded: LoadedObject, kind: "map" | "program"): void {
  for (const map of loaded.maps.values()) {
    if (map.spec.slots.length === 0 || (map.spec.type === MapType.PROG_ARRAY) !== (kind === "program")) continue;
    if (kind === "map" && map.reused) continue;
    for (const slot of map.spec.slots) {
      const target = kind === "map" ? loaded.maps.get(slot.name) : loaded.programs.get(slot.name);
      if (!target) {
        loaded.warnings.push(`slot ${slot.index} of ${map.name} stays empty: ${kind} ${slot.name} was not loaded`);
        continue;
      }
      try {
        loaded.sys.mapUpdate(map.fd, u32(slot.index), u32(target.fd));
      } catch (e) {
        if (!(e instanceof SysError)) throw e;
        const hint =
          e.code !== "EINVAL"
            ? ""
            : kind === "map"
              ? ` (${slot.name}'s type, key and value sizes, max_entries and flags must be those of the inner definition in __array(values, ...))`
              : ` (a program array holds programs of one type: ${slot.name}'s differs from the type of a program already using the array)`;
        const reason = `${e.code}${hint}`;
        throw new LoadError(`cannot put ${kind} ${slot.name} in slot ${slot.index} of ${map.name}: ${reason}`, map.name, reason, "", e.code, { cause: e });
      }
    }
  }
}
