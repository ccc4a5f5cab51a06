// Errors of the executing tiers, located by instruction index.
// Takes nothing; gives VmError (base, with `pc`), VmLoadError, BudgetExceeded, and re-exports
// VmFault (memory.ts), which counts as a VmError for `instanceof`.

import { VmFault } from "./memory.js";

export { VmFault };

/** Any error of a BPF program in the VM; `pc` is the slot index of the instruction, -1 if none. */
export class VmError extends Error {
  constructor(
    message: string,
    public pc: number,
  ) {
    super(message);
    this.name = "VmError";
  }

  // VmFault lives in memory.ts and extends Error; make `e instanceof VmError` cover it too.
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === VmError && value instanceof VmFault) return true;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** A program the VM refuses to load: malformed, or naming a helper, map or feature it lacks. */
export class VmLoadError extends VmError {
  constructor(
    pc: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(pc >= 0 ? `instruction ${pc}: ${reason}` : reason, pc);
    this.name = "VmLoadError";
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

/** The run executed its whole instruction budget without exiting. */
export class BudgetExceeded extends VmError {
  constructor(
    pc: number,
    readonly budget: number,
  ) {
    super(`instruction budget of ${budget} exhausted at instruction ${pc}`, pc);
    this.name = "BudgetExceeded";
  }
}
