// The verifier's reason, read off its log: the last line that is neither statistics nor a trace of instructions.

import { test } from "node:test";
import assert from "node:assert/strict";
import { verifierReason } from "../../runtime/loader/load.js";

test("the reason is the log's last message, also when the kernel wrote it without a newline before its statistics", () => {
  const stats = "processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
  assert.equal(verifierReason(`0: (b7) r0 = 0\nR0 !read_ok\n${stats}`), "R0 !read_ok");
  assert.equal(verifierReason(`invalid type id 999999 in func info${stats}`), "invalid type id 999999 in func info");
  assert.equal(verifierReason(""), undefined);
});
