// Where probe arguments live in the context of each architecture.
// Takes an architecture name; gives pt_regs byte offsets of the argument and return registers.
// x86-64 offsets follow struct pt_regs in arch/x86/include/asm/ptrace.h (Linux 6.12): r15 r14 r13
// r12 bp bx r11 r10 r9 r8 ax cx dx si di ..., 8 bytes each; arguments in di si dx cx r8 r9.
// arm64's struct pt_regs (arch/arm64/include/asm/ptrace.h) starts with user_pt_regs: x0..x30, 8 bytes
// each; arguments in x0..x7 (libbpf's PT_REGS_PARM1..8), the return value in x0.

export type Arch = "x86_64" | "arm64";

export interface Target {
  arch: Arch;
  /** pt_regs offsets of the argument registers, first argument first. */
  params: readonly number[];
  /** pt_regs offset of the return-value register. */
  ret: number;
}

const X86_64: Target = {
  arch: "x86_64",
  // di=112, si=104, dx=96, cx=88, r8=72, r9=64
  params: [112, 104, 96, 88, 72, 64],
  // ax
  ret: 80,
};

const ARM64: Target = {
  arch: "arm64",
  params: [0, 8, 16, 24, 32, 40, 48, 56],
  ret: 0,
};

/** By the kernel's architecture name; `aarch64` (uname's name) is an alias. */
export const TARGETS: Readonly<Record<string, Target>> = { x86_64: X86_64, arm64: ARM64, aarch64: ARM64 };

/** The target of the running Node process, by the kernel's name (a name TARGETS lacks when there is no layout for it). */
export function hostArch(): string {
  return process.arch === "x64" ? "x86_64" : process.arch;
}
