// `npm run demo`: assembles examples/popcount.s and runs it in both VM tiers and, where this
// process may use bpf(), in the kernel through BPF_PROG_TEST_RUN, printing the three results.
import { readFileSync } from "node:fs";
import { assemble, disassemble, encode } from "../compiler/isa/index.js";
import { SimKernel } from "../runtime/vm/kernel.js";
import { createVmEnv } from "../runtime/vm/helpers/index.js";
import { Vm } from "../runtime/vm/vm.js";
import { selectTier } from "../runtime/vm/tiers.js";
import { ProgType, missingTestRun, openSys } from "../runtime/sys/index.js";

const source = "examples/popcount.s";
const insns = assemble(readFileSync(source, "utf8"));
console.log(`${source}, ${insns.length} instructions:`);
for (const line of disassemble(insns, { indices: true })) console.log(`  ${line}`);

const value = 0xdeadbeefcafef00dn;
const packet = new Uint8Array(64);
new DataView(packet.buffer).setBigUint64(0, value);
console.log(`\npopcount(0x${value.toString(16)}):`);

const env = createVmEnv({ kernel: new SimKernel() });
for (const tier of ["interpreter", "compiled"] as const) {
  const vm = new Vm({ tier: selectTier(tier) });
  const { r0, instructions } = vm.runOnBuffer(vm.load(insns, env), packet.slice());
  console.log(`  tsbpf VM (${tier}):`.padEnd(34) + `r0 = ${r0}  (${instructions} instructions)`);
}

const unavailable = missingTestRun();
if (unavailable) console.log(`  kernel:`.padEnd(34) + `not run: ${unavailable}`);
else {
  const sys = openSys();
  const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: encode(insns) });
  try {
    // A socket filter's skb data starts after the 14-byte Ethernet header of data_in.
    const dataIn = new Uint8Array(14 + packet.length);
    dataIn.set(packet, 14);
    console.log(`  kernel (BPF_PROG_TEST_RUN):`.padEnd(34) + `r0 = ${sys.progTestRun(fd, { dataIn }).retval}`);
  } finally {
    sys.close(fd);
  }
}
