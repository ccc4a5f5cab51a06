// Shared pieces of the stream tests: the fixture object compiled with clang-19 (cached by content), a loaded
// session around it, test runs of its socket filters, and counts of open fds and mappings for leak checks.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { missingRoot, openSys, type Sys } from "../../runtime/sys/index.js";
import { Session, type LoadedObject } from "../../runtime/loader/index.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const CACHE = join(tmpdir(), "tsbpf-stream-fixtures");

export const CLANG = spawnSync("clang-19", ["--version"]).status === 0 ? "clang-19" : undefined;
/** Real-kernel tests: skipped only without root or clang-19. */
export const needsKernel = { skip: missingRoot() ?? (CLANG ? false : "clang-19 is missing") };

/** Compiles fixtures/<name>.bpf.c once per content; gives the object's bytes. */
export function fixture(name: string): Uint8Array {
  const source = readFileSync(join(FIXTURES, `${name}.bpf.c`));
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const out = join(CACHE, `${name}-${hash}.bpf.o`);
  if (!existsSync(out)) {
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    const r = spawnSync(CLANG ?? "clang-19", ["-O2", "-g", "-target", "bpf", "-c", join(FIXTURES, `${name}.bpf.c`), "-o", tmp], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`clang-19 failed on ${name}.bpf.c:\n${r.stderr}`);
    renameSync(tmp, out); // atomic: parallel test files never see half an object
  }
  return readFileSync(out);
}

export const sys: Sys = openSys();
const PACKET = new Uint8Array(64);

/** Loads the streams fixture in a fresh session, runs `body`, and closes the session whatever happens. */
export async function withStreams<T>(body: (obj: LoadedObject, session: Session) => Promise<T> | T): Promise<T> {
  const session = new Session(sys);
  try {
    return await body(session.load(fixture("streams"), { name: "streams" }), session);
  } finally {
    await session.close();
  }
}

/** Runs a socket filter of `obj` `repeat` times in one BPF_PROG_TEST_RUN; gives the average ns per run. */
export function run(obj: LoadedObject, program: string, repeat = 1): number {
  return sys.progTestRun(obj.program(program).fd, { dataIn: PACKET, dataSizeOut: 0, repeat }).duration;
}

export const openFdCount = (): number => readdirSync("/proc/self/fd").length;
/** Mappings of kernel objects (BPF maps, perf events) in /proc/self/maps; the heap's own mappings come and go. */
export const mappingCount = (): number => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("anon_inode:")).length;

/** The event struct of the fixture, as decoded from its BTF. */
export interface Event {
  seq: number;
  kind: number;
  delta: number;
  comm: string;
  inner: { port: number; flags: number[] };
  arr: number[];
  lo: number;
  hi: number;
  big: bigint;
}

/** What the fixture's fill() writes for `seq`. */
export function expectedEvent(seq: number): Event {
  return {
    seq,
    kind: seq % 3,
    delta: seq === 0 ? 0 : -seq,
    comm: "tsbpf-event",
    inner: { port: 8080, flags: [1, 2] },
    arr: [seq, seq * 2, seq * 3],
    lo: seq & 7,
    hi: 17,
    big: 0xfedcba9876543210n,
  };
}

/** The seq field (first u64) of a raw event. */
export const seqOf = (b: Uint8Array): number => Number(new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(0, true));
