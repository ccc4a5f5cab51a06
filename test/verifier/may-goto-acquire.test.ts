// may_goto loops and load-acquire/store-release: the model's verdict on each program against the running kernel's
// (BPF_PROG_LOAD of a socket filter), and for rejections the kernel's reason within the model's message.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, encode, type Insn } from "../../compiler/isa/index.js";
import { verify, type MapDesc } from "../../compiler/verifier/index.js";
import { BpfLoadError, MapType, missingBpf, openSys } from "../../runtime/sys/index.js";

const FD = 1000;
const MAP: MapDesc = { fd: FD, type: MapType.ARRAY, keySize: 4, valueSize: 64, maxEntries: 1 };
const LOOKUP = `*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:${FD}]\ncall bpf_map_lookup_elem\nif r0 != 0 goto found\nexit\nfound: r9 = r0\n`;
const raw = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** Name, program, and for rejections a piece of the kernel's reason the model must give too. */
const CASES: [string, Insn[], RegExp?][] = [
  ["counting until may_goto ends the loop", assemble("r0 = 0\nl: may_goto out\nr0 += 1\ngoto l\nout: exit")],
  ["may_goto to the next instruction", assemble("r0 = 0\nmay_goto pc+0\nexit")],
  ["may_goto with src 1 (not a may_goto)", [raw(0xb7), raw(0xe5, 0, 1, 0), raw(0x95)], /invalid may_goto imm 0/],
  ["may_goto with dst", [raw(0xb7), raw(0xe5, 1, 0, 0), raw(0x95)], /invalid may_goto imm 0/],
  ["may_goto with imm", [raw(0xb7), raw(0xe5, 0, 0, 0, 1), raw(0x95)], /invalid may_goto imm 1/],
  ["JCOND with a register source", [raw(0xb7), raw(0xed), raw(0x95)], /unknown opcode ed/],
  ["JCOND in JMP32", [raw(0xb7), raw(0xe6), raw(0x95)], /unknown opcode e6/],
  ["may_goto to itself repeats the state", assemble("r0 = 0\nl: may_goto l\nexit"), /infinite loop detected at insn 1/],
  ["r0 unset on the path out of the loop", assemble("l: may_goto out\nr0 = 1\ngoto l\nout: exit"), /R0 !read_ok/],
  ["bounded index into a map value", assemble(`${LOOKUP}r1 = 0\nr0 = 0\nl: may_goto out\nif r1 >= 64 goto out\nr2 = r9\nr2 += r1\nr3 = *(u8 *)(r2 +0)\nr0 += r3\nr1 += 1\ngoto l\nout: exit`)],
  ["index one past the map value", assemble(`${LOOKUP}r1 = 0\nr0 = 0\nl: may_goto out\nif r1 > 64 goto out\nr2 = r9\nr2 += r1\nr3 = *(u8 *)(r2 +0)\nr0 += r3\nr1 += 1\ngoto l\nout: exit`), /R2 min value is outside of the allowed memory range/],
  ["index the loop widens to unknown", assemble(`${LOOKUP}r1 = 0\nr0 = 0\nl: may_goto out\nr2 = r9\nr2 += r1\nr3 = *(u8 *)(r2 +0)\nr0 += r3\nr1 += 1\ngoto l\nout: exit`), /R2 min value is outside of the allowed memory range/],
  ["index bounded by the loop's own exit", assemble(`${LOOKUP}r1 = 0\nr0 = 0\nl: may_goto out\nr2 = r9\nr2 += r1\nr3 = *(u8 *)(r2 +0)\nr0 += r3\nr1 += 1\nif r1 < 3 goto l\nout: exit`)],
  ["pointer walked past the map value", assemble(`${LOOKUP}r1 = r9\nr0 = 0\nl: may_goto out\nr3 = *(u64 *)(r1 +0)\nr0 += r3\nr1 += 8\ngoto l\nout: exit`), /R1 min value is outside of the allowed memory range/],
  ["nested loops", assemble("r6 = 0\nr7 = 0\nouter: may_goto done\nr8 = 0\ninner: may_goto next\nr7 += r8\nr8 += 1\ngoto inner\nnext: r6 += 1\ngoto outer\ndone: r0 = r7\nexit")],
  ["a subprogram's loop inside a loop", assemble("r6 = 0\nl: may_goto out\nr1 = r6\ncall sub\nr6 += r0\ngoto l\nout: r0 = r6\nexit\nsub: r0 = 0\ns: may_goto e\nr0 += 1\ngoto s\ne: exit")],
  ["a counter spilled to the stack", assemble("r1 = 0\n*(u64 *)(r10 -8) = r1\nl: may_goto out\nr1 = *(u64 *)(r10 -8)\nr1 += 1\n*(u64 *)(r10 -8) = r1\ngoto l\nout: r0 = *(u64 *)(r10 -8)\nexit")],
];
for (const [size, name] of [[0x00, "u32"], [0x08, "u16"], [0x10, "u8"], [0x18, "u64"]] as const) {
  CASES.push(
    [`load_acquire (${name}) from the stack`, assemble(`*(u64 *)(r10 -8) = 0x1234567\nr0 = load_acquire((${name} *)(r10 -8))\nexit`)],
    [`store_release (${name}) to the stack`, assemble(`r1 = -1\nstore_release((${name} *)(r10 -8), r1)\nr0 = *(u64 *)(r10 -8)\nexit`)],
    [`store_release (${name}) to the context`, assemble(`r2 = 1\nstore_release((${name} *)(r1 +0), r2)\nr0 = 0\nexit`), /invalid bpf_context access off=0/],
    [`load_acquire (${name}) from the context`, [raw(0xc3 | size, 0, 1, 0, 0x100), raw(0x95)], size === 0x18 ? /invalid bpf_context access off=0 size=8/ : /BPF_ATOMIC loads from R1 ctx is not allowed/],
    [`load_acquire and store_release (${name}) on a map value`, assemble(`${LOOKUP}r1 = 7\nstore_release((${name} *)(r9 +8), r1)\nr0 = load_acquire((${name} *)(r9 +8))\nexit`)],
  );
}
CASES.push(
  ["load-acquire with a fetch bit", [raw(0x7a, 10, 0, -8, 1), raw(0xdb, 0, 10, -8, 0x101), raw(0x95)], /BPF_ATOMIC uses invalid atomic opcode 101/],
  ["load-acquire misaligned on the stack", assemble("*(u64 *)(r10 -8) = 1\nr0 = load_acquire((u64 *)(r10 -4))\nexit"), /misaligned stack access off 0\+0\+-4 size 8/],
  ["load-acquire misaligned on a map value", assemble(`${LOOKUP}r0 = load_acquire((u32 *)(r9 +2))\nexit`), /misaligned value access/],
  ["load-acquire of a byte at an odd offset", assemble("*(u64 *)(r10 -8) = 1\nr0 = load_acquire((u8 *)(r10 -5))\nexit")],
  ["load-acquire of uninitialised stack (privileged)", assemble("r0 = load_acquire((u64 *)(r10 -8))\nexit")],
  ["load-acquire into r10", [raw(0x7a, 10, 0, -8, 1), raw(0xdb, 10, 10, -8, 0x100), raw(0xb7), raw(0x95)], /frame pointer is read only/],
  ["store-release of r10: a spill of the frame pointer", assemble("store_release((u64 *)(r10 -8), r10)\nr0 = 0\nexit")],
  ["a pointer spilled by store-release and filled by load-acquire", assemble("store_release((u64 *)(r10 -8), r1)\nr2 = load_acquire((u64 *)(r10 -8))\nr0 = *(u32 *)(r2 +0)\nexit")],
  ["store-release to a read-only map", assemble(`r1 = map[fd:${FD + 1}][0]+0\nr2 = 1\nstore_release((u32 *)(r1 +0), r2)\nr0 = 0\nexit`), /write into map forbidden/],
  ["load-acquire from a read-only map", assemble(`r1 = map[fd:${FD + 1}][0]+0\nr0 = load_acquire((u32 *)(r1 +0))\nexit`)],
);

const noBpf = missingBpf();

test("may_goto and load-acquire/store-release: the model's verdicts are the kernel's", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const map = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 64, maxEntries: 1 });
  // BPF_F_RDONLY_PROG: the program may only read it.
  const readOnly = sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 64, maxEntries: 1, flags: 1 << 7 });
  const fds = new Map([[FD, map], [FD + 1, readOnly]]);
  const maps: MapDesc[] = [MAP, { ...MAP, fd: FD + 1, flags: 1 << 7 }];
  const problems: string[] = [];
  try {
    for (const [name, insns, reason] of CASES) {
      let kernel: { accepted: boolean; why: string };
      const forKernel = insns.map((x) => (x.code === 0x18 && fds.has(x.imm) ? { ...x, imm: fds.get(x.imm)! } : x));
      try {
        sys.close(sys.progLoad({ type: 1, insns: encode(forKernel) }).fd);
        kernel = { accepted: true, why: "" };
      } catch (e) {
        if (!(e instanceof BpfLoadError)) throw e;
        kernel = { accepted: false, why: e.log };
      }
      const model = verify(insns, { progType: 1, maps, limit: 200_000 });
      const said = model.error ? `rejects at ${model.error.pc}: ${model.error.message}` : "accepts";
      if (model.accepted !== kernel.accepted) problems.push(`${name}: the model ${said}, the kernel ${kernel.accepted ? "accepts" : `rejects: ${kernel.why.trim().split("\n").slice(-3).join(" | ")}`}`);
      else if (reason && !(reason.test(kernel.why) && reason.test(model.error?.message ?? ""))) problems.push(`${name}: ${reason} is not in both reasons; the model ${said}; the kernel: ${kernel.why.trim().split("\n").slice(-3).join(" | ")}`);
      else if (!reason && !kernel.accepted) problems.push(`${name}: the kernel rejects, the case expects an accept`);
    }
  } finally {
    sys.close(map);
    sys.close(readOnly);
  }
  assert.deepEqual(problems, []);
});
