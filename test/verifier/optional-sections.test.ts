// libbpf's optional programs (a section starting with "?") are of the kind the rest of the section names: tsbpf verify
// says which kind it does not check, without the "?".

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyObject } from "../../cli/commands/verify.js";
import { compileC, needsClang } from "../loader/support.js";

const SOURCE = `#include "loader.h"
SEC("?fentry/do_nanosleep") int maybe(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test("an optional fentry program is reported as an fentry program the model does not check", needsClang, () => {
  const p = verifyObject(readFileSync(compileC("optional-fentry", SOURCE)), { name: "optional" }).programs[0]!;
  assert.equal(p.verdict, "unchecked");
  assert.match(p.unchecked!, /^the model does not check fentry programs:/);
});
