// Differential fuzzing of the verifier model against the kernel's verifier: random programs
// and mutated selftest programs are judged by both; the model must never accept what the kernel
// rejects. Disagreements are printed as disassembly with both verdicts.
// TSBPF_VERIFIER_FUZZ=N runs N programs per source (default 2,500: 5,000 per run); TSBPF_VERIFIER_FUZZ_SEED
// picks the seed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PseudoLd, disassemble, encode, type Insn } from "../../compiler/isa/index.js";
import { verify, type MapDesc } from "../../compiler/verifier/index.js";
import { BpfLoadError, MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { Prng } from "../support/prng.js";
import { MAP_FD_PLACEHOLDER, VALUE_SIZE, randomProgram } from "../support/random-program.js";
import { FIXUP_MAPS, isMapCase, isPlain, loadSelftests, modelMaps, progFlags, withFixups, type SelftestCase } from "./selftests.js";

const COUNT = Number(process.env.TSBPF_VERIFIER_FUZZ ?? 2500);
const SEED = Number(process.env.TSBPF_VERIFIER_FUZZ_SEED ?? 20250101);
/** The model gives up earlier than the kernel: a give-up is a (safe) rejection. */
const MODEL_LIMIT = 200_000;

const noBpf = missingBpf();

interface Subject {
  name: string;
  progType: number;
  attach: number;
  flags: number;
  /** Instructions with the model's map fds. */
  insns: Insn[];
  maps: MapDesc[];
  /** Model fd -> kernel fd. */
  fdMap: Map<number, number>;
}

const EDGES = [0, 1, -1, 2, 4, 7, 8, 16, 31, 32, 63, 64, 255, -8, -16, -512, 0x7fffffff, -0x80000000];

/** Changes one to three fields or slots of a program. */
function mutate(rng: Prng, insns: Insn[]): Insn[] {
  const out = insns.map((x) => ({ ...x }));
  const n = 1 + rng.below(3);
  for (let k = 0; k < n; k++) {
    const i = rng.below(out.length);
    const x = out[i]!;
    switch (rng.below(7)) {
      case 0:
        x.code = rng.chance(0.7) ? (x.code & 0x07) | (rng.below(16) << 4) | (x.code & 0x08) : rng.below(256);
        break;
      case 1:
        x.dst = rng.below(rng.chance(0.95) ? 11 : 16);
        break;
      case 2:
        x.src = rng.below(rng.chance(0.95) ? 11 : 16);
        break;
      case 3:
        x.off = rng.chance(0.5) ? x.off + rng.between(-9, 9) : rng.pick(EDGES.filter((e) => e >= -0x8000 && e <= 0x7fff));
        break;
      case 4:
        x.imm = rng.chance(0.5) ? (x.imm + rng.between(-9, 9)) | 0 : rng.pick(EDGES);
        break;
      case 5: {
        const j = rng.below(out.length);
        [out[i], out[j]] = [out[j]!, out[i]!];
        break;
      }
      default:
        out[i] = { ...out[rng.below(out.length)]! };
    }
  }
  return out;
}

function kernelVerdict(sys: ReturnType<typeof openSys>, s: Subject): { accepted: boolean; why: string } {
  const insns = s.insns.map((x) => (x.code === 0x18 && (x.src === PseudoLd.MAP_FD || x.src === PseudoLd.MAP_VALUE) && s.fdMap.has(x.imm) ? { ...x, imm: s.fdMap.get(x.imm)! } : x));
  try {
    const { fd } = sys.progLoad({ type: s.progType || 1, insns: encode(insns), flags: s.flags, expectedAttachType: s.attach });
    sys.close(fd);
    return { accepted: true, why: "" };
  } catch (e) {
    if (e instanceof BpfLoadError) return { accepted: false, why: e.log.trim().split("\n").pop() ?? `errno ${e.errno}` };
    throw e;
  }
}

test("fuzz: random and mutated programs, model against kernel", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const rng = new Prng(SEED);
  const kernelFds: number[] = [];
  const fixupFd = new Map<string, number>();
  try {
    for (const [name, m] of Object.entries(FIXUP_MAPS)) {
      const fd = sys.mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0 });
      kernelFds.push(fd);
      fixupFd.set(name, fd);
    }
    const randomMapFd = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1 });
    kernelFds.push(randomMapFd);
    const randomMap: MapDesc = { fd: MAP_FD_PLACEHOLDER, type: MapType.ARRAY, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1 };

    const cases = loadSelftests().filter((c) => isPlain(c) || isMapCase(c));
    const fromCase = (c: SelftestCase, insns: Insn[] | null): Subject => {
      const { maps, fdFor } = modelMaps(c);
      const fdMap = new Map(Object.keys(c.fixups).map((name) => [fdFor(name), fixupFd.get(name)!] as [number, number]));
      return { name: c.descr, progType: c.prog_type, attach: c.expected_attach_type, flags: progFlags(c), insns: insns ?? withFixups(c, fdFor), maps, fdMap };
    };

    const subjects: Subject[] = [];
    for (let k = 0; k < COUNT; k++) {
      const seed = rng.u32();
      const p = randomProgram(seed);
      const base: Subject = { name: `random seed ${seed}`, progType: 1, attach: 0, flags: 0, insns: p.insns, maps: [randomMap], fdMap: new Map([[MAP_FD_PLACEHOLDER, randomMapFd]]) };
      subjects.push(rng.chance(0.5) ? base : { ...base, name: `${base.name}, mutated`, insns: mutate(rng, p.insns) });
      const c = rng.pick(cases);
      const s = fromCase(c, null);
      subjects.push({ ...s, name: `${c.descr}, mutated`, insns: mutate(rng, s.insns) });
    }

    let agree = 0;
    const unsound: string[] = [];
    const falseRejects: string[] = [];
    for (const s of subjects) {
      const model = verify(s.insns, { progType: s.progType, expectedAttachType: s.attach, maps: s.maps, flags: s.flags & 1, limit: MODEL_LIMIT });
      const kernel = kernelVerdict(sys, s);
      if (model.accepted === kernel.accepted) {
        agree++;
        continue;
      }
      const text = [
        `${s.name} (type ${s.progType}): model ${model.accepted ? "accepts" : `rejects at ${model.error!.pc}: ${model.error!.message}`}; kernel ${kernel.accepted ? "accepts" : `rejects: ${kernel.why}`}`,
        ...disassemble(s.insns, { indices: true }).map((l) => `    ${l}`),
      ].join("\n");
      (model.accepted ? unsound : falseRejects).push(text);
    }
    console.log(`verifier fuzz: ${subjects.length} programs, ${agree} agree, ${unsound.length} unsound accepts, ${falseRejects.length} false rejects`);
    for (const u of unsound) console.log(`UNSOUND ACCEPT ${u}`);
    for (const f of falseRejects.slice(0, 5)) console.log(`false reject ${f}`);
    assert.deepEqual(unsound, [], "the model accepted programs the kernel rejects");
  } finally {
    for (const fd of kernelFds) sys.close(fd);
  }
});
