// Errors of the executing tiers, located by instruction index.
// Takes nothing; gives VmError (base, with `pc`), VmFault, VmLoadError and BudgetExceeded.

/** Any error of a BPF program in the VM; `pc` is the slot index of the instruction, -1 if none. */
export class VmError extends Error {
  constructor(
    message: string,
    public pc: number,
  ) {
    super(message);
    this.name = "VmError";
  }
}

/** A memory access the program may not make; `pc` is filled in by the executing tier. */
export class VmFault extends VmError {
  constructor(
    readonly reason: string,
    readonly address: bigint,
    pc = -1,
  ) {
    super(reason, pc);
    this.name = "VmFault";
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
