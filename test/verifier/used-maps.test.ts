// Linux's limit on the maps one program references (MAX_USED_MAPS, 64), counted as resolve_pseudo_ldimm64 meets
// them: the model's verdicts and reason against the kernel's (a kprobe program; kprobes need not be attachable).

import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble } from "../../compiler/isa/index.js";
import type { MapDesc } from "../../compiler/verifier/index.js";
import { MapType, missingBpf, openSys } from "../../runtime/sys/index.js";
import { type Case, disagreements } from "./kernel-compare.js";

const KPROBE = 2;
const FIRST_FD = 1000;

/** A lookup in each of `count` maps, the first map named again at the end (a map met twice counts once). */
function lookups(count: number): string {
  const one = (fd: number) => `r2 = r10\nr2 += -4\nr1 = map[fd:${fd}]\ncall bpf_map_lookup_elem\n`;
  return `*(u32 *)(r10 -4) = 0\n${Array.from({ length: count }, (_, i) => one(FIRST_FD + i)).join("")}${one(FIRST_FD)}r0 = 0\nexit`;
}

test("64 maps in a program are allowed and the 65th is refused, by the model and the kernel alike", { skip: missingBpf() ?? false }, () => {
  const sys = openSys();
  const fds = new Map<number, number>();
  const maps: MapDesc[] = [];
  try {
    for (let i = 0; i < 65; i++) {
      fds.set(FIRST_FD + i, sys.mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }));
      maps.push({ fd: FIRST_FD + i, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    }
    const cases: Case[] = [
      ["64 maps", assemble(lookups(64))],
      ["65 maps", assemble(lookups(65)), /The total number of maps per program has reached the limit of 64/],
    ];
    assert.deepEqual(disagreements(sys, cases, { progType: KPROBE, maps }, fds), []);
  } finally {
    for (const fd of fds.values()) sys.close(fd);
  }
});
