// A USDT site for the simulator: a firing's arguments put where a site's note says they are, and the spec the loader
// would write for it. Takes the arguments, the site's argument text (`-4@%edi 8@-8(%rbp) 4@$5`; by default each one a
// u64 in a register of its own) and the test kernel for user memory; gives the pt_regs registers and the spec bytes.

import { encodeUsdtSpec, parseUsdtArgs, UsdtArgError, UsdtArgType, type UsdtArg } from "../loader/usdt.js";
import { LAYOUTS, type Arch } from "./context.js";
import { usage } from "./errors.js";
import type { TestKernel } from "./kernel.js";
import { toU64, type CValue } from "./layout.js";

/** The registers a site without `spec` keeps its arguments in, in order (a 12-argument probe uses them all). */
const DEFAULT_SITE: Record<Arch, readonly string[]> = {
  x86_64: ["%rdi", "%rsi", "%rdx", "%rcx", "%r8", "%r9", "%rax", "%rbx", "%rbp", "%r10", "%r11", "%r12"],
  arm64: ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11"],
};

export interface UsdtSiteImage {
  /** struct __bpf_usdt_spec, as the loader writes it into `__bpf_usdt_specs`. */
  spec: Uint8Array;
  /** pt_regs registers by name. */
  regs: Record<string, CValue>;
}

/** Where `args` go at a site described by `text` (default: each a u64 in the next of DEFAULT_SITE's registers). */
export function usdtSite(arch: Arch, args: readonly CValue[], text: string | undefined, kernel: TestKernel): UsdtSiteImage {
  if (!Array.isArray(args)) throw usage(`the arguments of a USDT probe must be an array, not ${typeof args}`);
  const siteText = text ?? DEFAULT_SITE[arch].slice(0, args.length).map((r) => `8@${r}`).join(" ");
  let specs: UsdtArg[];
  try {
    specs = parseUsdtArgs(siteText, arch);
  } catch (e) {
    if (e instanceof UsdtArgError) throw usage(`USDT site "${siteText}": ${e.message}`);
    throw e;
  }
  if (specs.length !== args.length) throw usage(`the site "${siteText}" has ${specs.length} argument${specs.length === 1 ? "" : "s"}; ${args.length} given`);
  const nameAt = new Map(Object.entries(LAYOUTS[arch].regs).map(([name, offset]) => [offset, name]));
  const regs: Record<string, CValue> = {};
  const setRegister = (offset: number, value: bigint, what: string) => {
    const name = nameAt.get(offset)!;
    if (name in regs && regs[name] !== value) throw usage(`${what} and another argument both live in register ${name} with different values`);
    regs[name] = value;
  };
  // Memory arguments are laid out around their base register, in one user buffer per register.
  const memory = new Map<number, { offset: bigint; size: number; value: bigint }[]>();
  specs.forEach((s, i) => {
    const what = `argument ${i + 1} (${s.text})`;
    const value = toU64(args[i]!, what, true);
    if (s.type === UsdtArgType.CONST) {
      const constant = (s.signed ? BigInt.asIntN : BigInt.asUintN)(8 * s.size, s.valOff);
      if (BigInt.asUintN(8 * s.size, value) !== BigInt.asUintN(8 * s.size, s.valOff)) throw usage(`${what} is the constant ${constant} at this site, not ${args[i]}`);
    } else if (s.type === UsdtArgType.REG) setRegister(s.regOff, value, what);
    else memory.set(s.regOff, [...(memory.get(s.regOff) ?? []), { offset: s.valOff, size: s.size, value }]);
  });
  for (const [regOff, cells] of memory) {
    const low = cells.reduce((m, c) => (c.offset < m ? c.offset : m), cells[0]!.offset);
    const high = cells.reduce((m, c) => (c.offset + 8n > m ? c.offset + 8n : m), 0n);
    const bytes = new Uint8Array(Number(high - low));
    const view = new DataView(bytes.buffer);
    for (const c of cells) {
      const at = Number(c.offset - low);
      // The program reads 8 bytes and keeps the low `size`: bytes past the value are whatever the stack holds.
      for (let b = 0; b < c.size; b++) view.setUint8(at + b, Number((c.value >> BigInt(8 * b)) & 0xffn));
    }
    const buffer = kernel.bytes(bytes, { user: true });
    setRegister(regOff, BigInt.asUintN(64, buffer.address - low), `the memory arguments at ${nameAt.get(regOff)}`);
  }
  return { spec: encodeUsdtSpec(specs), regs };
}
