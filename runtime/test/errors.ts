// Errors of the simulator: one class whose message is the whole story (what, which program, where in
// its source), so a failing test prints a readable line rather than a VM stack.
// Takes nothing; gives SimulationError and its `kind`s.

export type SimulationErrorKind =
  /** The probe file did not compile (diagnostics in the message). */
  | "compile"
  /** The object could not be parsed or relocated (what the loader would refuse). */
  | "object"
  /** The verifier model rejected a program, as the kernel would at load. */
  | "verifier"
  /** The program did something at run time the kernel would not let it (a bad access, a missing helper). */
  | "fault"
  /** A misuse of the simulator API (unknown probe, map, type, field). */
  | "usage";

export class SimulationError extends Error {
  constructor(
    message: string,
    readonly kind: SimulationErrorKind,
    /** The program concerned, when there is one. */
    readonly program?: string,
    /** `file:line:col` of the instruction concerned, from the object's line info. */
    readonly source?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SimulationError";
  }
}

export const usage = (message: string): SimulationError => new SimulationError(message, "usage");
