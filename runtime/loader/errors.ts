// The errors the loader throws, each meant to be shown to a user as one sentence.
// Takes nothing; gives `ObjectError` (malformed or unsupported object; `GlobalValueError`, a value given for a
// global variable that does not fit it), `LoadError` (the kernel refused
// a map or program: its reason line and the verifier log; `MapRefusedError` for a map) and `AttachError` (a probe cannot be attached,
// with a `reason` category the CLI maps to exit codes).

import type { SourceLocation } from "./lines.js";

/** The object cannot be turned into kernel objects: an unknown section name, a bad map definition, an unsupported relocation. */
export class ObjectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ObjectError";
  }
}

/** A value given for a global variable (LoadOptions.globals) names no variable of the object, or does not fit it. */
export class GlobalValueError extends ObjectError {
  constructor(message: string) {
    super(message);
    this.name = "GlobalValueError";
  }
}

/** The running kernel lacks what the object needs from it (a CONFIG_ value, a kernel symbol, a kfunc). */
export class MissingKernelError extends ObjectError {
  constructor(message: string) {
    super(message);
    this.name = "MissingKernelError";
  }
}

/** A kaddr() names a symbol /proc/kallsyms does not list (or lists without addresses, to a user without root). */
export class KernelSymbolError extends MissingKernelError {
  constructor(readonly symbol: string, message: string) {
    super(message);
    this.name = "KernelSymbolError";
  }
}

/** A uaddr() names a binary or a symbol that cannot be resolved, or a position-independent binary. */
export class UserSymbolError extends ObjectError {
  constructor(readonly binary: string, readonly symbol: string, message: string) {
    super(message);
    this.name = "UserSymbolError";
  }
}

/** A cgroupId(path) names a path that is not a cgroup v2 directory. */
export class CgroupPathError extends ObjectError {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = "CgroupPathError";
  }
}

/** The object holds no program at all (a probe file that exports no probes compiles to one). */
export class NoProgramsError extends ObjectError {
  constructor() {
    super("the object has no programs (no global functions in SEC() sections)");
    this.name = "NoProgramsError";
  }
}

/** What the kernel's verifier refused, for saying why in the source's terms (the CLI's diagnostics). */
export interface VerifierRejection {
  /** The program as it was loaded (encoded instructions, maps and calls relocated). */
  insns: Uint8Array;
  progType: number;
  /** The instruction the verifier stopped at. */
  pc: number;
  /** Where an instruction of the program came from, through the object's line info. */
  sourceAt(pc: number): SourceLocation | undefined;
}

/** The kernel refused a program (verifier rejection) or a map. */
export class LoadError extends Error {
  /** The source line (TypeScript for tsbpf objects, C for clang -g ones) of the instruction the verifier refused. */
  readonly location: SourceLocation | undefined;
  /** Set when the verifier rejected a program (not for a permission error, a signal or a missing kernel feature). */
  readonly rejection: VerifierRejection | undefined;
  constructor(
    message: string,
    /** The program or map that was refused. */
    readonly object: string,
    /** The verifier's reason: the last meaningful line of its log (or the errno when there is no log). */
    readonly reason: string,
    /** The whole verifier log; empty for maps. */
    readonly log: string,
    /** Errno name of the failed call ("EACCES", "EINVAL", "EPERM"). */
    readonly code: string,
    options?: { cause?: unknown; location?: SourceLocation; rejection?: VerifierRejection },
  ) {
    super(message, options);
    this.name = "LoadError";
    this.location = options?.location;
    this.rejection = options?.rejection;
  }
}

/**
 * The kernel refused to create a map (`object` names it). `ofDefinition` when what it refused is the map's own
 * definition, which the object's author changes (a size it will not allocate, E2BIG; no max_entries or value size),
 * rather than a limit or feature of the running kernel (a map type or flag it lacks, a memlock limit).
 */
export class MapRefusedError extends LoadError {
  constructor(
    message: string,
    map: string,
    reason: string,
    code: string,
    readonly ofDefinition: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, map, reason, "", code, options);
    this.name = "MapRefusedError";
  }
}

/** Why an attach failed, so callers can pick an exit code or a hint. */
export type AttachFailure =
  /** The running kernel lacks the feature (kprobes compiled out, no uprobe PMU, tracefs not mounted). */
  | "unsupported"
  /** The target does not exist: unknown tracepoint, kernel function, binary or symbol. */
  | "not-found"
  /** The kernel said EPERM/EACCES. */
  | "permission"
  /** Another process holds it: the shared trace_pipe allows one reader at a time (EBUSY). */
  | "busy"
  /** The process, or the system, has no file descriptor left for another perf event (EMFILE, ENFILE). */
  | "limit"
  /** The program, though verified, does not fit the hook (it reads a tracepoint's context past the record's end). */
  | "program"
  /** Anything else the kernel refused. */
  | "kernel";

export class AttachError extends Error {
  constructor(
    message: string,
    readonly reason: AttachFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AttachError";
  }
}
