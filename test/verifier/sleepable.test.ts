// A sleepable program (libbpf's SEC("syscall"), "uprobe.s", ...) may name only some map types: hash and array maps,
// maps of maps, ring buffers, queues, stacks and local storage. The model refuses the others where the kernel does,
// with its message, checked against the running kernel for every type both can create here.

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, encode } from "../../compiler/isa/index.js";
import { verify, ProgTypeId } from "../../compiler/verifier/index.js";
import { LoadError } from "../../runtime/loader/errors.js";
import { missingBpf, missingRoot, openSys, SysError } from "../../runtime/sys/index.js";

const SLEEPABLE = 1 << 4;
const REFUSED = "Sleepable programs can only use array, hash, ringbuf and local storage maps";

/** [name, type, key size, value size, max entries, flags]: what each type takes to be created without BTF. */
const TYPES: [string, number, number, number, number, number][] = [
  ["hash", 1, 4, 8, 4, 0], ["array", 2, 4, 8, 4, 0], ["prog array", 3, 4, 4, 4, 0], ["perf event array", 4, 4, 4, 4, 0],
  ["percpu hash", 5, 4, 8, 4, 0], ["percpu array", 6, 4, 8, 4, 0], ["stack trace", 7, 4, 64, 4, 0], ["cgroup array", 8, 4, 4, 4, 0],
  ["lru hash", 9, 4, 8, 4, 0], ["lru percpu hash", 10, 4, 8, 4, 0], ["lpm trie", 11, 8, 8, 4, 1],
  ["queue", 22, 0, 8, 4, 0], ["stack", 23, 0, 8, 4, 0], ["ring buffer", 27, 0, 0, 4096, 0], ["bloom filter", 30, 0, 8, 4, 0],
];
const ALLOWED = new Set(["hash", "array", "percpu hash", "percpu array", "lru hash", "lru percpu hash", "queue", "stack", "ring buffer"]);

const program = (fd: number) => assemble(`r1 = map[fd:${fd}]\nr0 = 0\nexit`);

test("a sleepable syscall program names only the map types the kernel allows it, and a plain one any", () => {
  for (const [name, type, keySize, valueSize, maxEntries, flags] of TYPES) {
    const maps = [{ fd: 100, type, keySize, valueSize, maxEntries, flags }];
    const sleepable = verify(program(100), { progType: ProgTypeId.syscall, maps, flags: SLEEPABLE });
    assert.equal(sleepable.accepted, ALLOWED.has(name), name);
    if (!sleepable.accepted) assert.equal(sleepable.error!.message, REFUSED, name);
    assert.equal(verify(program(100), { progType: ProgTypeId.syscall, maps }).accepted, true, `${name}, not sleepable`);
  }
});

test("the kernel agrees, type by type", { skip: missingRoot() ?? missingBpf(openSys()) ?? false }, () => {
  const sys = openSys();
  for (const [name, type, keySize, valueSize, maxEntries, flags] of TYPES) {
    const fd = sys.mapCreate({ type, keySize, valueSize, maxEntries, flags });
    try {
      let reason: string | undefined;
      try {
        sys.close(sys.progLoad({ type: ProgTypeId.syscall, insns: encode(program(fd)), flags: SLEEPABLE, logLevel: 1 }).fd);
      } catch (e) {
        if (!(e instanceof SysError || e instanceof LoadError)) throw e;
        reason = e.message;
      }
      assert.equal(reason === undefined, ALLOWED.has(name), `${name}: ${reason ?? "accepted"}`);
      if (reason !== undefined) assert.match(reason, new RegExp(REFUSED), name);
    } finally {
      sys.close(fd);
    }
  }
});

// can_be_sleepable: of the types loadable without an attach target, kprobes (uprobes) and syscall programs may sleep; a
// sleepable tracepoint or raw tracepoint (libbpf's tp.s, raw_tp.s) is refused before any instruction is checked.
const SLEEPERS: [string, number, boolean][] = [
  ["kprobe", ProgTypeId.kprobe, true], ["syscall", ProgTypeId.syscall, true], ["tracepoint", ProgTypeId.tracepoint, false],
  ["raw tracepoint", ProgTypeId.raw_tracepoint, false], ["perf event", ProgTypeId.perf_event, false], ["socket filter", ProgTypeId.socket_filter, false],
  ["xdp", ProgTypeId.xdp, false],
];
const CANNOT_SLEEP = "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable";

test("only the program types the kernel lets sleep may be sleepable, in the model and in the kernel", () => {
  const sys = missingRoot() ?? missingBpf(openSys()) ? undefined : openSys();
  const insns = assemble("r0 = 0\nexit");
  for (const [name, progType, allowed] of SLEEPERS) {
    const model = verify(insns, { progType, flags: SLEEPABLE });
    assert.equal(model.accepted, allowed, `${name}: ${model.error?.message ?? "accepted"}`);
    if (!allowed) assert.equal(model.error!.message, CANNOT_SLEEP, name);
    if (!sys) continue;
    let reason: string | undefined;
    try {
      sys.close(sys.progLoad({ type: progType, insns: encode(insns), flags: SLEEPABLE, logLevel: 1 }).fd);
    } catch (e) {
      if (!(e instanceof SysError || e instanceof LoadError)) throw e;
      reason = e.message;
    }
    assert.equal(reason === undefined, allowed, `kernel, ${name}: ${reason ?? "accepted"}`);
    if (reason !== undefined) assert.match(reason, new RegExp(CANNOT_SLEEP), name);
  }
});
