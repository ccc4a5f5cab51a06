// Differential test: random verifier-valid programs run in the kernel (BPF_PROG_TEST_RUN, socket
// filter) and in both VM tiers; r0 and every observable byte must match exactly.
// TSBPF_DIFF_COUNT=N runs more programs (default 1,500, to keep `npm test` under its time budget; 5,000 and more
// before a release), TSBPF_DIFF_SEED=S starts elsewhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PseudoLd, disassemble, encode, type Insn } from "../../compiler/isa/index.js";
import { MapType, ProgType, missingTestRun, openSys } from "../../runtime/sys/index.js";
import { SimKernel } from "../../runtime/vm/kernel.js";
import { createVmEnv } from "../../runtime/vm/helpers/index.js";
import { Vm } from "../../runtime/vm/vm.js";
import { selectTier } from "../../runtime/vm/tiers.js";
import { MAP_FD_PLACEHOLDER, VALUE_SIZE, randomProgram } from "../support/random-program.js";

const COUNT = Number(process.env.TSBPF_DIFF_COUNT ?? 1_500);
const FIRST_SEED = Number(process.env.TSBPF_DIFF_SEED ?? 1);
const PACKET = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
/** A socket filter's skb data starts after the 14-byte Ethernet header of data_in. */
const SKB_DATA = PACKET.slice(14);
const KEY = new Uint8Array(4);
const ZERO_VALUE = new Uint8Array(VALUE_SIZE);

interface Outcome {
  r0: bigint;
  value: string;
}

/** The same program with its map LDDW naming `fd`. */
const withMapFd = (insns: readonly Insn[], fd: number): Insn[] =>
  insns.map((x) => (x.code === 0x18 && x.src === PseudoLd.MAP_FD && x.imm === MAP_FD_PLACEHOLDER ? { ...x, imm: fd } : x));

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function report(seed: number, insns: readonly Insn[], outcomes: Record<string, Outcome | string>): string {
  const lines = [`seed ${seed}: the kernel and the VM disagree`];
  for (const [who, o] of Object.entries(outcomes)) {
    lines.push(typeof o === "string" ? `  ${who}: ${o}` : `  ${who}: r0=0x${o.r0.toString(16)} value=${o.value}`);
  }
  lines.push(...disassemble(insns, { indices: true }).map((l) => `    ${l}`));
  return lines.join("\n");
}

const skip = missingTestRun();

test(`kernel and both VM tiers agree on ${COUNT} random programs`, { skip }, () => {
  const sys = openSys();
  const kernelMap = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, name: "tsbpf_diff" });
  const kernel = new SimKernel();
  const env = createVmEnv({ kernel });
  const vmMap = env.maps.array({ name: "diff", valueSize: VALUE_SIZE, maxEntries: 1 });
  const tiers = { interpreter: new Vm({ tier: selectTier("interpreter") }), compiled: new Vm({ tier: selectTier("compiled") }) };
  const failures: string[] = [];
  try {
    for (let seed = FIRST_SEED; seed < FIRST_SEED + COUNT && failures.length < 5; seed++) {
      const { insns, packet } = randomProgram(seed);

      sys.mapUpdate(kernelMap, KEY, ZERO_VALUE);
      const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(withMapFd(insns, kernelMap)) });
      let inKernel: Outcome;
      try {
        const run = sys.progTestRun(fd, { dataIn: PACKET });
        const value = sys.mapLookup(kernelMap, KEY)!;
        // The full r0 is in the value unless an out-of-bounds packet load ended the program early.
        const full = packet ? BigInt(run.retval) : Buffer.from(value).readBigUInt64LE(128);
        assert.equal(BigInt(run.retval), full & 0xffffffffn, `seed ${seed}: retval is not the low half of the stored r0`);
        inKernel = { r0: full, value: hex(value) };
      } finally {
        sys.close(fd);
      }

      const outcomes: Record<string, Outcome | string> = { kernel: inKernel };
      const vmInsns = withMapFd(insns, vmMap.fd);
      for (const [name, vm] of Object.entries(tiers)) {
        vmMap.update(0, ZERO_VALUE);
        try {
          const program = vm.load(vmInsns, env);
          const { r0 } = vm.runOnBuffer(program, SKB_DATA.slice());
          const value = vmMap.lookup(0)!;
          const stored = Buffer.from(value).readBigUInt64LE(128);
          outcomes[name] = { r0: packet ? r0 & 0xffffffffn : stored === r0 ? r0 : -1n, value: hex(value) };
        } catch (error) {
          outcomes[name] = `error: ${(error as Error).message}`;
        }
      }
      const agree = Object.values(outcomes).every((o) => typeof o !== "string" && o.r0 === inKernel.r0 && o.value === inKernel.value);
      if (!agree) failures.push(report(seed, insns, outcomes));
    }
  } finally {
    sys.close(kernelMap);
  }
  assert.equal(failures.length, 0, failures.join("\n\n"));
});
