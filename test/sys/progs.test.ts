// Real-kernel program tests: loading with the verifier log, rejection as BpfLoadError, BPF_PROG_TEST_RUN
// (plain return value and LD_ABS reads of data_in), object info, id iteration and BTF loading.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AluOp, Helper, JmpOp, Reg, Size, call, encode, exit, jmpImm, ldAbs, ldMapFd, mov64Imm, mov64Reg, alu64Imm, st, type Insn } from "../../compiler/isa/index.js";
import { BpfLoadError, LogLevel, MapType, ProgType, SysError, listIds, openSys } from "../../runtime/sys/index.js";
import { needsKernel, readU32, u32, withFds } from "./helpers.js";

const sys = openSys();
const prog = (...insns: (Insn | Insn[])[]): Uint8Array => encode(insns.flat());
const returns = (n: number) => prog(mov64Imm(Reg.R0, n), exit());

test("a loaded program gives an fd and, with log level 1, the verifier's log", needsKernel, () =>
  withFds(sys, (fds) => {
    const r = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: returns(0), logLevel: LogLevel.BRANCHES, name: "ret0" });
    fds.add(r.fd);
    assert.ok(r.fd > 2);
    assert.match(r.log, /processed 2 insns/);
    const quiet = sys.progLoad({ type: ProgType.KPROBE, insns: returns(0) });
    fds.add(quiet.fd);
    assert.equal(quiet.log, "");
  }),
);

test("a too-small log buffer is grown to what the verifier needs", needsKernel, () =>
  withFds(sys, (fds) => {
    const r = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: returns(7), logLevel: LogLevel.INSNS, logSize: 32 });
    fds.add(r.fd);
    assert.ok(r.log.length > 32, r.log);
    assert.match(r.log, /processed 2 insns/);
  }),
);

test("a rejected program is BpfLoadError with EACCES and the verifier log", needsKernel, () => {
  for (const logLevel of [LogLevel.BRANCHES, LogLevel.NONE]) {
    try {
      const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: prog(exit()), logLevel });
      sys.close(fd);
      assert.fail("`exit` without setting r0 was accepted");
    } catch (e) {
      assert.ok(e instanceof BpfLoadError, String(e));
      assert.ok(e instanceof SysError);
      assert.equal(e.errno, 13);
      assert.equal(e.code, "EACCES");
      assert.equal(e.command, "BPF_PROG_LOAD");
      // Level 0 is retried with a log, so both carry the reason.
      assert.match(e.log, /R0 !read_ok/);
      assert.match(e.message, /BPF_PROG_LOAD failed: EACCES .*R0 !read_ok/);
    }
  }
});

test("a failed load's reason comes from the end of a log too long for the buffer, without a load to fill a larger one", needsKernel, () => {
  // A loop of 20,000 turns, then an exit without r0: the log of the 60,000 instructions followed is ~2 MB.
  const loop = prog(mov64Imm(Reg.R1, 0), alu64Imm(AluOp.ADD, Reg.R1, 1), jmpImm(JmpOp.JLT, Reg.R1, 20000, -2), exit());
  const loads = (logLevel: number): BpfLoadError => {
    try {
      sys.close(sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: loop, logLevel }).fd);
    } catch (e) {
      assert.ok(e instanceof BpfLoadError, String(e));
      return e;
    }
    assert.fail("`exit` without setting r0 was accepted");
  };
  // Logged only for the reason: the kernel keeps the log's end.
  const tail = loads(LogLevel.NONE);
  assert.equal(tail.code, "EACCES");
  assert.match(tail.log, /^\.\.\. \(the verifier log's first \d+ bytes are left out\)\n/);
  assert.match(tail.log, /R0 !read_ok/);
  assert.ok(tail.log.length <= 256 * 1024 + 100, `${tail.log.length} bytes`);
  // A log asked for: the whole of it.
  const whole = loads(LogLevel.BRANCHES);
  assert.match(whole.log, /^0: R1=ctx\(\) R10=fp0\n0: \(b7\) r1 = 0/);
  assert.match(whole.log, /R0 !read_ok/);
  assert.ok(whole.log.length > 1_000_000, `${whole.log.length} bytes`);
});

test("malformed instruction bytes fail before the syscall", () => {
  assert.throws(() => sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: new Uint8Array(12) }), (e: unknown) => e instanceof SysError && e.code === "EINVAL");
});

test("test run of a socket filter returning 42", needsKernel, () =>
  withFds(sys, (fds) => {
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: returns(42) });
    fds.add(fd);
    const packet = new Uint8Array(64);
    const r = sys.progTestRun(fd, { dataIn: packet, repeat: 10 });
    assert.equal(r.retval, 42);
    assert.equal(r.dataOut.length, packet.length);
    assert.equal(typeof r.duration, "number");
  }),
);

test("test run: LD_ABS reads data_in (socket filters see it from the network header on)", needsKernel, () =>
  withFds(sys, (fds) => {
    const packet = new Uint8Array(64);
    packet.set([0x08, 0x00], 12); // ethertype IPv4
    packet.set([0x45, 0x00, 0x12, 0x34], 14);
    // r6 = ctx is what LD_ABS reads through; r0 = be32 at 0 + byte at 2.
    const insns = prog(mov64Reg(Reg.R6, Reg.R1), ldAbs(Size.W, 0), mov64Reg(Reg.R7, Reg.R0), ldAbs(Size.B, 2), alu64Imm(AluOp.LSH, Reg.R0, 0), exit());
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns, logLevel: LogLevel.BRANCHES });
    fds.add(fd);
    assert.equal(sys.progTestRun(fd, { dataIn: packet }).retval, 0x12);
    const word = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: prog(mov64Reg(Reg.R6, Reg.R1), ldAbs(Size.W, 0), exit()) });
    fds.add(word.fd);
    assert.equal(sys.progTestRun(word.fd, { dataIn: packet }).retval, 0x45001234);
    // Out of bounds: LD_ABS ends the program with 0.
    const far = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: prog(mov64Reg(Reg.R6, Reg.R1), ldAbs(Size.B, 1000), mov64Imm(Reg.R0, 5), exit()) });
    fds.add(far.fd);
    assert.equal(sys.progTestRun(far.fd, { dataIn: packet }).retval, 0);
    // SKF_NET_OFF + k reads at the network header, where the test run's data starts (as runtime/vm models it).
    const net = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: prog(mov64Reg(Reg.R6, Reg.R1), ldAbs(Size.B, -0x100000 + 1), exit()) });
    fds.add(net.fd);
    assert.equal(sys.progTestRun(net.fd, { dataIn: packet }).retval, 0x00);
    const netWord = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: prog(mov64Reg(Reg.R6, Reg.R1), ldAbs(Size.W, -0x100000), exit()) });
    fds.add(netWord.fd);
    assert.equal(sys.progTestRun(netWord.fd, { dataIn: packet }).retval, 0x45001234);
  }),
);

test("test run of an XDP program returns its action and the packet", needsKernel, () =>
  withFds(sys, (fds) => {
    const { fd } = sys.progLoad({ type: ProgType.XDP, insns: returns(2) });
    fds.add(fd);
    const packet = Uint8Array.from({ length: 60 }, (_, i) => i);
    const r = sys.progTestRun(fd, { dataIn: packet });
    assert.equal(r.retval, 2);
    assert.deepEqual([...r.dataOut], [...packet]);
  }),
);

/** Looks up array[0] and stores its value + 1 back: uses a map, so info lists it. */
function counterProgram(mapFd: number): Uint8Array {
  return prog(
    st(Size.W, Reg.R10, -4, 0),
    mov64Reg(Reg.R2, Reg.R10),
    alu64Imm(AluOp.ADD, Reg.R2, -4),
    ldMapFd(Reg.R1, mapFd),
    call(Helper.map_lookup_elem),
    jmpImm(JmpOp.JEQ, Reg.R0, 0, 1),
    st(Size.W, Reg.R0, 0, 77),
    mov64Imm(Reg.R0, 0),
    exit(),
  );
}

test("prog info: type, name, tag, translated instructions and map ids", needsKernel, () =>
  withFds(sys, (fds) => {
    const mapFd = fds.add(sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 }));
    const insns = counterProgram(mapFd);
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns, name: "counter_prog" });
    fds.add(fd);
    const info = sys.progInfo(fd, { xlated: true, jited: true, mapIds: true });
    assert.equal(info.type, ProgType.SOCKET_FILTER);
    assert.equal(info.name, "counter_prog");
    assert.match(info.tag, /^[0-9a-f]{16}$/);
    assert.ok(info.id > 0);
    assert.ok(info.gplCompatible);
    assert.ok(info.xlatedProgLen > 0);
    assert.equal(info.xlatedInsns!.length, info.xlatedProgLen);
    assert.equal(info.xlatedInsns!.length % 8, 0);
    assert.equal(info.jitedInsns!.length, info.jitedProgLen);
    assert.equal(info.verifiedInsns > 0, true);
    assert.deepEqual(info.mapIds, [sys.mapInfo(mapFd).id]);
    // The program ran its store: test run once and read the map.
    sys.progTestRun(fd, { dataIn: new Uint8Array(64) });
    assert.equal(readU32(sys.mapLookup(mapFd, u32(0))!), 77);
  }),
);

test("next-id iteration finds a loaded program until it is closed; fd by id reopens it", needsKernel, async () => {
  let id = 0;
  let mapId = 0;
  await withFds(sys, (fds) => {
    const { fd } = sys.progLoad({ type: ProgType.SOCKET_FILTER, insns: returns(1) });
    fds.add(fd);
    const mapFd = fds.add(sys.mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1 }));
    id = sys.progInfo(fd).id;
    mapId = sys.mapInfo(mapFd).id;
    assert.ok(listIds(sys, "prog").includes(id));
    assert.ok(listIds(sys, "map").includes(mapId));
    assert.ok(sys.progGetNextId(id - 1)! <= id);
    const again = fds.add(sys.progGetFdById(id));
    assert.equal(sys.progInfo(again).id, id);
    assert.equal(sys.progTestRun(again, { dataIn: new Uint8Array(64) }).retval, 1);
  });
  assert.ok(waitUntilGone("map", mapId));
  assert.ok(waitUntilGone("prog", id));
  assert.throws(() => sys.progGetFdById(id), (e: unknown) => e instanceof SysError && e.code === "ENOENT");
  // Ids stay below INT_MAX; the kernel refuses a start at or above it with EINVAL.
  assert.equal(sys.progGetNextId(0x7ffffffe), undefined);
});

/** Objects are freed after an RCU grace period or from a work queue: wait for that, not for a fixed time. */
function waitUntilGone(kind: "prog" | "map", id: number): boolean {
  const deadline = Date.now() + 10_000;
  while (listIds(sys, kind).includes(id)) {
    if (Date.now() > deadline) return false;
    sys.poll([], 10);
  }
  return true;
}

/** A BTF blob with one type, `int` (32-bit signed). */
function intBtf(): Uint8Array {
  const strings = Buffer.from("\0int\0");
  const types = Buffer.alloc(16);
  types.writeUInt32LE(1, 0); // name_off
  types.writeUInt32LE(1 << 24, 4); // kind INT
  types.writeUInt32LE(4, 8); // size
  types.writeUInt32LE((1 << 24) | 32, 12); // signed, 32 bits
  const header = Buffer.alloc(24);
  header.writeUInt16LE(0xeb9f, 0);
  header.writeUInt8(1, 2);
  header.writeUInt32LE(24, 4);
  header.writeUInt32LE(0, 8);
  header.writeUInt32LE(types.length, 12);
  header.writeUInt32LE(types.length, 16);
  header.writeUInt32LE(strings.length, 20);
  return Buffer.concat([header, types, strings]);
}

test("BTF: a valid blob loads and shows in btf ids; a broken one is BpfLoadError with the log", needsKernel, () =>
  withFds(sys, (fds) => {
    const blob = intBtf();
    const { fd } = sys.btfLoad({ data: blob, logLevel: 1 });
    fds.add(fd);
    const info = sys.btfInfo(fd);
    assert.equal(info.btfSize, blob.length);
    assert.equal(info.kernelBtf, false);
    assert.ok(listIds(sys, "btf").includes(info.id));
    const broken = Uint8Array.from(blob);
    broken[24 + 8] = 3; // int of size 3 bytes with 32 bits: refused
    try {
      fds.add(sys.btfLoad({ data: broken }).fd);
      assert.fail("broken BTF was accepted");
    } catch (e) {
      assert.ok(e instanceof BpfLoadError, String(e));
      assert.equal(e.command, "BPF_BTF_LOAD");
      assert.ok(e.log.length > 0);
    }
  }),
);
