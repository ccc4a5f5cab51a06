// The options of tsbpf run and tsbpf load checked before anything is compiled or loaded: --duration, --interval,
// --event-type, --set, --command, --pid and --record. Takes yargs' values; gives typed ones, or a UserError that names the
// option and what it takes (exit 2).
import { UserError } from "./exit-codes.js";
import { sameFile } from "./input.js";
import type { GlobalValue } from "../runtime/loader/globals.js";

/** The name `tsbpf run -e TEXT` compiles its text under, and its diagnostics and messages give it. */
export const EXPRESSION_FILE = "-e.ts";

/** `--command` or `--pid`: the process a run traces (./target.ts). */
export type TargetOption = { command: string } | { pid: number };

/**
 * Parses --set NAME=VALUE (repeatable) into NAME -> the text of VALUE, which the loader reads as its variable's type
 * reads it and checks (runtime/loader/globals.ts).
 */
export function parseGlobals(value: unknown): Map<string, GlobalValue> | undefined {
  if (value === undefined) return undefined;
  const globals = new Map<string, GlobalValue>();
  for (const v of Array.isArray(value) ? value : [value]) {
    const m = typeof v === "string" ? /^([A-Za-z_]\w*)=(.*)$/s.exec(v) : null;
    if (!m) throw new UserError(`--set takes NAME=VALUE (a global variable of the object and its value, e.g. targ_pid=1234), not ${String(v)}`);
    const [, name, text] = m as unknown as [string, string, string];
    if (globals.has(name)) throw new UserError(`--set gives ${name} a value twice`);
    // As text: the loader reads it as the variable's type reads it (runtime/loader/globals.ts).
    globals.set(name, text);
  }
  return globals;
}

/** Validates --command and --pid (at most one of them): the target a run traces, or undefined for every process. */
export function parseTarget(argv: Record<string, unknown>): TargetOption | undefined {
  const { command, pid } = argv;
  if (Array.isArray(command) || Array.isArray(pid)) throw new UserError("--command and --pid take one value each");
  if (command !== undefined && pid !== undefined) throw new UserError("give --command or --pid, not both");
  if (typeof command === "string") return { command };
  if (pid === undefined) return undefined;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) throw new UserError(`--pid must be a process id (a positive integer), not ${Number.isNaN(pid) ? "a word" : String(pid)}`);
  return { pid };
}

/** Validates --record: undefined or the path of the file to write. */
/** `input`: the file the run reads (the probe or the object), which the recording must not overwrite. */
export function parseRecordPath(value: unknown, input?: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UserError("--record was given more than once");
  // Standard output carries the run's own output: a recording interleaved with it could not be replayed.
  if (value === "-" || value === "") throw new UserError("--record needs a file name (standard output carries the run's output)");
  if (input !== undefined && sameFile(input, String(value))) throw new UserError(`--record ${value} is the file this run reads (${input}): name another file for the recording`);
  return String(value);
}

/** The longest --duration: Node's timers hold at most 2^31 - 1 ms (and fire at once beyond it). */
const MAX_DURATION_S = Math.floor((2 ** 31 - 1) / 1000);

/** Validates --duration: undefined or a positive number of seconds that a timer can hold. */
export function parseDuration(value: unknown): number | undefined {
  return parseSeconds(value, "--duration", "leave it out to run until Ctrl-C");
}

/** Validates --interval: undefined or a positive number of seconds that a timer can hold. */
export function parseInterval(value: unknown): number | undefined {
  return parseSeconds(value, "--interval", "leave it out to print the maps only at the end");
}

/** The most pages per CPU --perf-pages takes: 4 MiB of ring for each CPU. */
const MAX_PERF_PAGES = 1024;

/** Validates --perf-pages: a power of two from 1 to MAX_PERF_PAGES, as a perf event's ring is mapped. */
export function parsePerfPages(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UserError("--perf-pages was given more than once");
  const n = typeof value === "number" ? value : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PERF_PAGES || (n & (n - 1)) !== 0) {
    throw new UserError(`--perf-pages must be a power of two from 1 to ${MAX_PERF_PAGES} (pages per CPU, as the kernel maps a perf ring), not ${Number.isNaN(n) ? "a word" : String(value)}`);
  }
  return n;
}

function parseSeconds(value: unknown, flag: string, instead: string): number | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UserError(`${flag} was given more than once`);
  if (typeof value !== "number" || !(value > 0)) throw new UserError(`${flag} must be a positive number of seconds, not ${Number.isNaN(value) ? "a word" : String(value)}`);
  if (value > MAX_DURATION_S) throw new UserError(`${flag} can be at most ${MAX_DURATION_S} seconds (about 24 days), not ${value}; ${instead}`);
  return value;
}

/** Validates --event-type: each TYPE or MAP=TYPE, at most one for all maps and one per map. */
export function parseEventTypes(value: unknown): Map<string, string> | undefined {
  if (value === undefined) return undefined;
  const types = new Map<string, string>();
  for (const v of Array.isArray(value) ? value : [value]) {
    const m = typeof v === "string" ? /^(?:([A-Za-z_.][\w.]*)=)?((?:struct |union )?[A-Za-z_]\w*)$/.exec(v) : null;
    if (!m) throw new UserError(`--event-type takes TYPE or MAP=TYPE (a C struct name such as event, or events=event), not ${String(v)}`);
    const map = m[1] ?? "";
    if (types.has(map)) throw new UserError(`--event-type gives ${map ? `map ${map}` : "every map"} a type twice`);
    types.set(map, m[2]!);
  }
  return types;
}
