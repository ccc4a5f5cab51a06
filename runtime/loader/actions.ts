// What a probe asks its reader to do through its actions ring buffer (compiler/btf/tags.ts's `tsbpf:actions=`):
// bpftrace's exit(), print(@m), clear(@m) and printf(), which run in user space when the record is read.
import { ACTIONS, type PrintfSite } from "../../compiler/btf/tags.js";
import { probeName } from "./probe-names.js";
import { ksymName } from "./symbolize.js";
import { decodeArgs, formatPrintf, intBits, parseFormat, strftime, strftimeText, type ArgNames, type FormatPiece } from "../../compiler/ir/printf.js";
import { bootRealtimeNs } from "./boot-clock.js";
import { BtfKind, type Btf } from "../../compiler/btf/index.js";
import { kernelBtf } from "./core.js";
import { MapType } from "../sys/constants.js";
import { SysError } from "../sys/sys.js";
import { mapBtfTypes, MapView } from "./maps.js";
import type { LoadedMap, LoadedObject } from "./load.js";

export type Action = { kind: "exit"; code: number } | { kind: "print"; map: string; top?: number } | { kind: "clear"; map: string } | { kind: "printf"; text: string };

/** What an actions ring buffer's records refer to: the maps print and clear name, the printf calls, by index. */
export class ActionTable {
  private readonly formats: (FormatPiece[] | undefined)[];
  /** Each printf call's integer widths in bits (0 for a string or an address), as formatPrintf takes them. */
  private readonly widths: number[][];
  constructor(
    readonly targets: readonly string[],
    readonly printf: readonly (PrintfSite | undefined)[] = [],
    readonly times: readonly (string | undefined)[] = [],
  ) {
    this.formats = printf.map((site) => {
      const pieces = site && parseFormat(site.format);
      return typeof pieces === "string" ? undefined : pieces;
    });
    this.widths = printf.map((site) => (site?.args ?? []).map((a) => intBits(a) ?? 0));
  }

  /**
   * What names the ids and addresses printf records carry: probes, kernel symbols and kernel enums' values always, stacks
   * once a reader gives a namer.
   */
  names: ArgNames = {
    probe: probeName,
    ksym: ksymName,
    enumerator: enumeratorsIn(() => kernelBtf()),
    strftime: (format, ns) => strftimeText(format, ns, this.clock),
  };

  /**
   * The wall clock time() prints (now, as the record is read) and strftime() reads (the real time at boot), and whether
   * in UTC (else local time): the host's, unless a simulation keeps its own.
   */
  clock: { now: () => Date; bootRealtimeNs: () => bigint; utc: boolean } = { now: () => new Date(), bootRealtimeNs, utc: false };

  /** A printf record's text: its values decoded by the call's argument list and formatted by its format. */
  printfText(id: number, record: Uint8Array): string | undefined {
    const site = this.printf[id];
    const pieces = this.formats[id];
    if (!site || !pieces) return undefined;
    return formatPrintf(pieces, decodeArgs(record, site.args, this.names), this.widths[id]!);
  }
}

/**
 * A namer of kernel enums' values from `btf` (read the first time a value is named): the first enumerator of the enum
 * of that name (or the anonymous enum a typedef of that name stands for) with the value, or undefined where there is
 * none (or no BTF).
 */
export function enumeratorsIn(btf: () => Btf | undefined): (name: string, value: bigint) => string | undefined {
  const enums = new Map<string, Map<bigint, string>>();
  return (name, value) => {
    let names = enums.get(name);
    if (!names) {
      names = new Map();
      let found: Btf | undefined;
      try {
        found = btf();
      } catch {
        found = undefined; // no BTF to read: the value prints as a number
      }
      // An anonymous enum is named by its typedef (socket_state).
      const typedef = found?.find(name, BtfKind.TYPEDEF);
      const t = found?.find(name, BtfKind.ENUM) ?? found?.find(name, BtfKind.ENUM64) ?? (typedef && found!.resolveType(typedef.id));
      if (t && (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64)) {
        for (const v of t.values) {
          const key = BigInt.asUintN(t.size * 8, BigInt(v.value));
          if (!names.has(key)) names.set(key, v.name);
        }
      }
      enums.set(name, names);
    }
    return names.get(value);
  };
}

/** The object's actions ring buffers, each with what its records refer to. */
export function actionMaps(obj: LoadedObject): { map: LoadedMap; table: ActionTable }[] {
  return [...obj.maps.values()].flatMap((map) => {
    const types = map.spec.type === MapType.RINGBUF ? mapBtfTypes(obj.spec, map.spec) : undefined;
    return types?.actions ? [{ map, table: new ActionTable(types.actions, types.printf, types.times) }] : [];
  });
}

/** A record `{ u32 action; u32 arg; ... }` as an action; undefined for one this reader does not know. */
export function decodeAction(record: Uint8Array, table: ActionTable): Action | undefined {
  if (record.length < 8) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, 8);
  const action = view.getUint32(0, true);
  const arg = view.getUint32(4, true);
  // A process exit status keeps the low 8 bits, as the kernel keeps them.
  if (action === ACTIONS.exit) return { kind: "exit", code: arg & 0xff };
  if (action === ACTIONS.time) {
    const format = table.times[arg];
    return format === undefined ? undefined : { kind: "printf", text: strftime(format, table.clock.now(), table.clock.utc) };
  }
  if (action === ACTIONS.printf) {
    const text = table.printfText(arg, record);
    return text === undefined ? undefined : { kind: "printf", text };
  }
  // print(top): the map's index in the low 16 bits, how many of its largest entries to print (0: all) above them.
  const map = table.targets[arg & 0xffff];
  if (map === undefined) return undefined;
  if (action === ACTIONS.print) return arg >>> 16 ? { kind: "print", map, top: arg >>> 16 } : { kind: "print", map };
  if (action === ACTIONS.clear) return { kind: "clear", map };
  return undefined;
}

/** Empties a map as bpftrace's clear(@m) does: a hash map's entries deleted, an array's values zeroed. */
export function clearMap(obj: LoadedObject, map: LoadedMap): void {
  const view = new MapView(obj.sys, map, undefined, { raw: true });
  if (map.spec.type === MapType.ARRAY || map.spec.type === MapType.PERCPU_ARRAY) {
    const zero = new Uint8Array(view.perCpu ? ((view.valueSize + 7) & ~7) * view.cpus : view.valueSize);
    const index = new Uint8Array(4);
    for (let i = 0; i < view.maxEntries; i++) {
      new DataView(index.buffer).setUint32(0, i, true);
      view.set(index, zero);
    }
    return;
  }
  // Keys first: deleting the walk's current key would restart it. One the probe deleted meanwhile is gone anyway.
  for (const key of [...view.rawKeys()]) {
    try {
      obj.sys.mapDelete(map.fd, key);
    } catch (e) {
      if (!(e instanceof SysError && e.code === "ENOENT")) throw e;
    }
  }
}
