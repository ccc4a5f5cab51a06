// The trace pipe against the kernel: what its tracefs instance holds when it closes is read and given, line for line,
// however much that is, and the counts of lost lines add up. Lines are written to the instance's trace_marker (no
// BPF program needed: they go to that instance alone, as bpf_printk lines go to every instance).

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { TracePipe } from "../../runtime/loader/index.js";
import { missingRoot, missingTracefs } from "../../runtime/sys/index.js";
import { sys } from "./support.js";

const needsTracefs = { skip: missingRoot() ?? missingTracefs() ?? false };

/** Writes `n` lines "m 0" ... to the instance's trace_marker; each is one trace event. */
function mark(instance: string, n: number, from = 0): void {
  const fd = openSync(`${instance}/trace_marker`, "w");
  try {
    for (let i = from; i < from + n; i++) writeSync(fd, `m ${i}\n`);
  } finally {
    closeSync(fd);
  }
}

test("closing a trace pipe gives every line its instance held, however many reads that takes", needsTracefs, async () => {
  const pipe = TracePipe.open({ sys });
  assert.ok(pipe.instance, "a private instance was made");
  const got: number[] = [];
  const reading = (async () => {
    for await (const line of pipe.lines()) if (line.event === "tracing_mark_write") got.push(Number(/^m (\d+)/.exec(line.message)![1]));
  })();
  // About 800 KB of lines, a hundred reads of trace_pipe, all still in the buffer when the close begins.
  mark(pipe.instance, 10_000);
  await pipe.close();
  await reading;
  assert.deepEqual(pipe.lost, { overwritten: 0, unread: 0 });
  assert.equal(got.length, 10_000);
  assert.deepEqual(got, Array.from({ length: 10_000 }, (_, i) => i));
});

test("mark() puts a line into a private instance's stream in order with what was written before and after it; the shared pipe takes none", needsTracefs, async () => {
  const pipe = TracePipe.open({ sys });
  try {
    assert.ok(pipe.instance, "a private instance was made");
    mark(pipe.instance, 3);
    assert.equal(pipe.mark("the point"), true);
    mark(pipe.instance, 3, 3);
    const got: string[] = [];
    const line = await pipe.waitFor((l) => (l.event === "tracing_mark_write" && got.push(l.message), got.length === 7), 5_000);
    assert.ok(line, got.join(", "));
    assert.deepEqual(got, ["m 0", "m 1", "m 2", "the point", "m 3", "m 4", "m 5"]);
  } finally {
    await pipe.close();
  }
  assert.equal(pipe.mark("closed"), false);
});
