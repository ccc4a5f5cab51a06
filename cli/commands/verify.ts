// `tsbpf verify --insns-hex HEX --prog-type TYPE`: runs the verifier model on raw instructions
// and explains a rejection by instruction (disassembled), register and reason. Exit 0 when
// accepted, 3 when rejected.
import { decode, disassemble, IsaError, type Insn } from "../../compiler/isa/index.js";
import { describeError, progTypeFromName, verify, type MapDesc } from "../../compiler/verifier/index.js";
import { ExitCode, UserError } from "../exit-codes.js";
import { parseHexBytes } from "../input.js";

const MAP_TYPES: Record<string, number> = { hash: 1, array: 2, prog_array: 3, perf_event_array: 4, percpu_hash: 5, percpu_array: 6, lru_hash: 9, ringbuf: 27 };

/** `FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES`, TYPE a number or a name such as `hash`. */
function parseMap(spec: string): MapDesc {
  const parts = spec.split(":");
  const nums = parts.map((p, i) => (i === 1 && p in MAP_TYPES ? MAP_TYPES[p]! : Number(p)));
  if (parts.length !== 5 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UserError(`--map ${spec}: expected FD:TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES, e.g. 3:hash:8:16:1024`);
  }
  const [fd, type, keySize, valueSize, maxEntries] = nums as [number, number, number, number, number];
  return { fd, type, keySize, valueSize, maxEntries };
}

export async function handler(argv: Record<string, unknown>): Promise<number> {
  const typeName = argv["prog-type"] as string;
  const progType = progTypeFromName(typeName);
  if (progType === undefined) throw new UserError(`unknown program type "${typeName}" (use the kernel's name: kprobe, socket_filter, tracepoint, xdp, sched_cls, ...)`);
  // Accept whole slots ("b700000000000000 9500000000000000") as well as single bytes.
  const hex = (argv["insns-hex"] as string).trim();
  const groups = hex.split(/\s+/);
  const joined = groups.every((g) => /^(0x)?[0-9a-f]+$/i.test(g) && g.replace(/^0x/i, "").length % 2 === 0) ? groups.map((g) => g.replace(/^0x/i, "")).join("") : hex;
  const bytes = parseHexBytes(joined, "--insns-hex");
  let insns: Insn[];
  try {
    insns = decode(bytes, { check: false });
  } catch (error) {
    if (error instanceof IsaError) throw new UserError(`--insns-hex: ${error.message}`);
    throw error;
  }
  const maps = ((argv.map as string[] | undefined) ?? []).map(parseMap);
  const result = verify(insns, {
    progType,
    maps,
    privileged: !argv.unprivileged,
    flags: argv["strict-alignment"] ? 1 : 0,
    log: Boolean(argv.log),
  });
  if (argv.json) {
    const out: Record<string, unknown> = { accepted: result.accepted, processed: result.processed };
    if (result.error) out.error = { ...result.error, insn: disassembleAt(insns, result.error.pc), text: describeError(insns, result.error) };
    if (result.log) out.log = result.log;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    if (result.log) process.stdout.write(result.log.map((l) => `${l}\n`).join(""));
    if (result.accepted) process.stdout.write(`accepted: ${result.processed} instructions processed\n`);
    else process.stdout.write(`rejected: ${describeError(insns, result.error!)}\n`);
  }
  return result.accepted ? ExitCode.OK : ExitCode.REJECTED;
}

function disassembleAt(insns: Insn[], pc: number): string | undefined {
  if (!insns[pc]) return undefined;
  return disassemble(insns.slice(pc, pc + 2), {})[0];
}
