// Maps a C object defines as the kernel refuses to create them fail simulate() as they fail the loader, and a ring
// buffer's size is rounded up as the loader rounds it (libbpf's adjust_ringbuf_sz). Checked against the kernel where
// there is one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { simulate, SimulationError } from "../../runtime/test/index.js";
import { Session } from "../../runtime/loader/index.js";
import { missingBpf, missingRoot } from "../../runtime/sys/index.js";
import { compileC } from "../loader/support.js";
import { needsClang } from "./support.js";

/** [name, the .maps definition, what the simulation says (undefined: created)] */
const CASES: [string, string, RegExp | undefined][] = [
  ["array-key8", "__uint(type, 2); __type(key, __u64); __type(value, __u64); __uint(max_entries, 4);", /EINVAL: an array's key is a 4-byte index, not 8 bytes/],
  ["percpu-40000", "__uint(type, 6); __uint(key_size, 4); __uint(value_size, 40000); __uint(max_entries, 1);", /E2BIG: a per-CPU map's value can be at most 32768 B/],
  ["percpu-hash-32768", "__uint(type, 5); __uint(key_size, 4); __uint(value_size, 32768); __uint(max_entries, 1);", undefined],
  ["stack-key8", "__uint(type, 7); __uint(key_size, 8); __uint(value_size, 64); __uint(max_entries, 4);", /EINVAL: a stack trace map's key is a 4-byte id, not 8 bytes/],
  ["perf-value8", "__uint(type, 4); __uint(key_size, 4); __uint(value_size, 8); __uint(max_entries, 4);", /EINVAL: a perf_event_array map's value is a 4-byte fd, not 8 bytes/],
  ["prog-value8", "__uint(type, 3); __uint(key_size, 4); __uint(value_size, 8); __uint(max_entries, 4);", /EINVAL: a prog_array map's value is a 4-byte fd, not 8 bytes/],
  ["array-noprealloc", "__uint(type, 2); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); __uint(map_flags, 1);", /EINVAL: flags 0x1 are not for an array map/],
  ["hash-mmapable", "__uint(type, 1); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); __uint(map_flags, 0x400);", /EINVAL: flags 0x400 are not for a hash map/],
  ["hash-no-common-lru", "__uint(type, 1); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); __uint(map_flags, 2);", /EINVAL: BPF_F_NO_COMMON_LRU is for LRU maps/],
  ["lru-noprealloc", "__uint(type, 9); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); __uint(map_flags, 1);", /ENOTSUPP: an LRU map is always preallocated/],
  ["ringbuf-5000", "__uint(type, 27); __uint(max_entries, 5000);", undefined],
  ["ringbuf-flags", "__uint(type, 27); __uint(max_entries, 4096); __uint(map_flags, 1);", /EINVAL: flags 0x1 are not for a ringbuf map/],
];

const source = (def: string) => `#include "loader.h"
struct { ${def} } m SEC(".maps");
SEC("raw_tp/sys_enter") int p(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test("a map the kernel refuses to create fails simulate() with the kernel's errno and why; one it creates is created", needsClang, async () => {
  for (const [name, def, refused] of CASES) {
    const bytes = readFileSync(compileC(`map-create-${name}`, source(def)));
    if (refused === undefined) await simulate(bytes);
    else await assert.rejects(simulate(bytes), (e: unknown) => e instanceof SimulationError && e.kind === "object" && refused.test(e.message), name);
  }
});

test("a ring buffer of 5000 bytes is 8192, as the loader sizes it", needsClang, async () => {
  const sim = await simulate(readFileSync(compileC("map-create-ringbuf-5000", source(CASES.find((c) => c[0] === "ringbuf-5000")![1]))));
  assert.equal((sim.map("m").map as unknown as { maxEntries: number }).maxEntries, 8192);
});

test("the kernel refuses and creates the same maps", { skip: needsClang.skip || (missingRoot() ?? missingBpf() ?? false) }, async () => {
  const session = new Session();
  try {
    for (const [name, def, refused] of CASES) {
      const bytes = readFileSync(compileC(`map-create-${name}`, source(def)));
      let created = true;
      try {
        session.load(bytes, { name: name.replace(/-/g, "_").slice(0, 10) }).close();
      } catch {
        created = false;
      }
      assert.equal(created, refused === undefined, name);
    }
  } finally {
    await session.close();
  }
});
