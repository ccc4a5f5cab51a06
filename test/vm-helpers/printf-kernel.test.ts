// The kernel as the oracle of the VM's printf engine: the same bpf_snprintf call (which shares
// trace_printk's format rules) runs in the kernel through BPF_PROG_TEST_RUN and in the VM; the
// return value and the output bytes must match, and a format the kernel's verifier refuses
// must make the VM's helper return -EINVAL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Helper, Size, call, encode, exit, lddw, ldMapValue, mov64Imm, mov64Reg, alu64Imm, AluOp, stx, type Insn, type Reg } from "../../compiler/isa/index.js";
import { BpfLoadError, MapFlag, MapType, ProgType, missingTestRun, openSys } from "../../runtime/sys/index.js";
import { SimKernel, Vm, createVmEnv } from "../../runtime/vm/index.js";

const OUT_SIZE = 128;
const RODATA_SIZE = 256;
/** Where the string arguments for %s live in the read-only map, after the format. */
const STRING_AT = 128;

/** An argument: a number, or a string placed in read-only memory and passed by address. */
type Arg = bigint | { str: string };

const CASES: Array<[string, Arg[]]> = [
  ["plain text", []],
  ["%d %i %u", [-5n, 42n, 7n]],
  ["%x %X %lx", [0xbeefn, 0xbeefn, 0xdeadbeefcafen]],
  ["%ld %lu %lld %llu", [-1n, 18446744073709551615n, -9223372036854775808n, 12345678901234n]],
  ["%llx %lli", [0xffffffffffffffffn, -42n]],
  ["[%5d] [%-5d] [%05d]", [42n, 42n, 42n]],
  ["%c%c%c", [0x61n, 0x62n, 0x63n]],
  ["100%%", []],
  ["%s and %s", [{ str: "alpha" }, { str: "" }]],
  ["%.3s|%8s|%-8s|", [{ str: "truncate" }, { str: "right" }, { str: "left" }]],
  ["%d", [2147483648n]],
  ["%u", [-1n]],
  ["%hhd", [300n]],
  ["%hd %hu", [70000n, 70000n]],
  ["%zd", [1n]],
  ["%", []],
  ["%q", [1n]],
  ["%d %d %d %d %d %d %d %d %d %d %d %d", [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n]],
  ["%d %d %d %d %d %d %d %d %d %d %d %d %d", [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n, 13n]],
  ["%px", [0xffff888012345678n]],
  // Hashed pointers depend on a per-boot key: only their shape can match.
  ["%pK and %p", [0x1234n, 0xffff888012345678n]],
  ["%lf", [1n]],
  ["%n", [1n]],
];

/** The read-only map image: the format at 0, the %s strings from STRING_AT on (NUL-separated). */
function rodataImage(format: string, args: Arg[]): { image: Uint8Array; offsets: number[] } {
  const image = new Uint8Array(RODATA_SIZE);
  image.set(Buffer.from(format + "\0"));
  const offsets: number[] = [];
  let at = STRING_AT;
  for (const a of args) {
    if (typeof a === "bigint") continue;
    offsets.push(at);
    image.set(Buffer.from(a.str + "\0"), at);
    at += a.str.length + 1;
  }
  return { image, offsets };
}

/** snprintf(out, OUT_SIZE, rodata + 0, args on the stack, 8 * n); r0 is the helper's result. */
function program(args: Arg[], rodataFd: number, outFd: number, offsets: number[]): Insn[] {
  const insns: Insn[] = [];
  let s = 0;
  args.forEach((a, i) => {
    if (typeof a === "bigint") insns.push(...lddw(1 as Reg, a));
    else insns.push(...ldMapValue(1 as Reg, rodataFd, offsets[s++]!));
    insns.push(stx(Size.DW, 10 as Reg, 1 as Reg, -8 * (args.length - i)));
  });
  insns.push(...ldMapValue(1 as Reg, outFd, 0));
  insns.push(mov64Imm(2 as Reg, OUT_SIZE));
  insns.push(...ldMapValue(3 as Reg, rodataFd, 0));
  if (args.length === 0) insns.push(mov64Imm(4 as Reg, 0), mov64Imm(5 as Reg, 0));
  else insns.push(mov64Reg(4 as Reg, 10 as Reg), alu64Imm(AluOp.ADD, 4 as Reg, -8 * args.length), mov64Imm(5 as Reg, 8 * args.length));
  insns.push(call(Helper.snprintf), exit());
  return insns;
}

/** The output, with hashed pointers (%p, %pK print 16 hex digits of a keyed hash) masked. */
const text = (bytes: Uint8Array, r0: bigint, format: string): string => {
  const n = Number(r0);
  const out = n > 0 ? Buffer.from(bytes.subarray(0, Math.min(n, OUT_SIZE))).toString("latin1") : "";
  return /%p(K|\b|$| )/.test(format) ? out.replace(/\b[0-9a-f]{16}\b/g, "<hashed>") : out;
};
const show = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}` : x));
/** What the verifier refuses, the VM's helper reports at run time as -EINVAL. */
const EINVAL = { r0: -22n, out: "" };

test("bpf_snprintf formats as the kernel does", { skip: missingTestRun() }, () => {
  const sys = openSys();
  const mismatches: string[] = [];
  for (const [format, args] of CASES) {
    const { image, offsets } = rodataImage(format, args);

    // The kernel.
    let kernel: { r0: bigint; out: string };
    const rodata = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: RODATA_SIZE, maxEntries: 1, flags: MapFlag.RDONLY_PROG });
    const out = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: OUT_SIZE, maxEntries: 1 });
    try {
      sys.mapUpdate(rodata, new Uint8Array(4), image);
      sys.mapFreeze(rodata);
      try {
        const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(program(args, rodata, out, offsets)) });
        try {
          // The test run's retval is the low 32 bits of r0: enough for snprintf's small results.
          const { retval } = sys.progTestRun(fd, { dataIn: new Uint8Array(64) });
          const bytes = sys.mapLookup(out, new Uint8Array(4))!;
          kernel = { r0: BigInt(retval | 0), out: text(bytes, BigInt(retval | 0), format) };
        } finally {
          sys.close(fd);
        }
      } catch (error) {
        if (!(error instanceof BpfLoadError)) throw error;
        kernel = EINVAL;
      }
    } finally {
      sys.close(rodata);
      sys.close(out);
    }

    // The VM.
    const env = createVmEnv({ kernel: new SimKernel() });
    const vmRodata = env.maps.array({ name: "rodata", valueSize: RODATA_SIZE, maxEntries: 1, readonlyProg: true, initial: image });
    const vmOut = env.maps.array({ name: "out", valueSize: OUT_SIZE, maxEntries: 1 });
    const vm = new Vm();
    const { r0 } = vm.run(vm.load(program(args, vmRodata.fd, vmOut.fd, offsets), env));
    const signed = BigInt.asIntN(64, r0);
    const inVm = { r0: signed, out: text(vmOut.lookup(0)!, signed, format) };
    if (show(inVm) !== show(kernel)) mismatches.push(`format ${JSON.stringify(format)}: kernel ${show(kernel)}, vm ${show(inVm)}`);
  }
  assert.deepEqual(mismatches, []);
});
