// CPython's USDT probes (`readelf -n /usr/bin/python3` lists them): every module import a Python program makes,
// with whether it was found, as ring buffer events, and its garbage collections, counted by generation, with their
// pauses in a log2 histogram. CPython reports its probes only while one is attached (each is guarded by a
// semaphore that attaching raises). Try `tsbpf run examples/python-usdt.ts -c "/usr/bin/python3 -c 'import json, gc; gc.collect()'"`
// (the probes are in that file; a python3 that PATH finds first, such as pyenv's, may be another build).
import { usdt, RingBuf, HashMap, Histogram, pidTgid, ktimeNs, readUserStr, type i32, type i64, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

export interface Import {
  pid: u32;
  found: boolean;
  module: Str<64>;
}

export const imports = new RingBuf<Import>(256 * 1024);
/** Collections started, by generation (0, 1, 2): a spare entry, so that a full map is never in doubt. */
export const collections = new HashMap<i32, u64>(4);
/** Pause of each collection in ns. */
export const pauses = new Histogram();
/** Objects each collection freed, summed. */
export const collected = new HashMap<u32, i64>(2);
const started = new HashMap<u32, u64>(10240);

const tid = (): u32 => pidTgid() as u32;

// import__find__load__done(const char *modulename, int found)
export const import_done = usdt("/usr/bin/python3", "python", "import__find__load__done", (module: u64, found: i32) => {
  const e = imports.reserve();
  if (e === null) return 0;
  e.pid = (pidTgid() >> 32) as u32;
  e.found = found !== 0;
  e.module = readUserStr(module);
  imports.submit(e);
  return 0;
});

// gc__start(int generation): this one's argument is on the stack (`-4@112(%rsp)` in Debian's build).
export const gc_start = usdt("/usr/bin/python3", "python", "gc__start", (generation: i32) => {
  collections.increment(generation);
  started.update(tid(), ktimeNs());
  return 0;
});

// gc__done(Py_ssize_t collected)
export const gc_done = usdt("/usr/bin/python3", "python", "gc__done", (freed: i64) => {
  const t0 = started.lookup(tid());
  if (t0 === null) return 0; // started before the probe was attached
  pauses.record(ktimeNs() - t0);
  started.delete(tid());
  collected.update(0, (collected.lookup(0) ?? 0) + freed);
  return 0;
});
