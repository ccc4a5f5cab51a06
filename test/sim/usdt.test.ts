// sim.usdt(): arguments placed as a site's note says, and the mistakes a test can make told as such.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";

const PROBE = {
  fileName: "usdt-sim.ts",
  text: [
    'import { usdt, printk, type i8, type i32, type i64, type u16 } from "tsbpf";',
    'export const license = "GPL";',
    "export const p = usdt(\"/opt/app\", \"app\", \"request\", (id: i64, status: i32, small: i8, port: u16) => {",
    "  printk(`${id} ${status} ${small} ${port}`);",
    "});",
  ].join("\n"),
};

test("sim.usdt: by default each argument is a u64 in a register; the handler's types narrow them", async () => {
  const sim = await simulate(PROBE);
  sim.usdt("app:request", { args: [-5n, 0x1_0000_0200, 0x1ff, 0x12345] });
  assert.deepEqual(sim.trace(), ["-5 512 -1 9029"]);
});

test("sim.usdt: registers, memory at a register plus an offset, and constants, with the site's sizes and signs", async () => {
  const sim = await simulate(PROBE);
  // status is a 4-byte signed value 12 bytes into rbp's frame, small a byte in cl, port the constant 8080.
  sim.usdt("/opt/app:app:request", { args: [77, -2, 200, 8080], spec: "8@%rbx -4@-12(%rbp) 1@%cl 2@$8080" });
  assert.deepEqual(sim.trace(), ["77 -2 -56 8080"]);
});

test("sim.usdt: a wrong count, a constant that differs, an operand libbpf cannot read, an unknown probe", async () => {
  const sim = await simulate(PROBE);
  assert.throws(() => sim.usdt("app:request", { args: [1], spec: "8@%rax 8@%rbx" }), /the site "8@%rax 8@%rbx" has 2 arguments; 1 given/);
  assert.throws(() => sim.usdt("app:request", { args: [1, 2], spec: "8@%rax 4@$3" }), /argument 2 \(4@\$3\) is the constant 3 at this site, not 2/);
  assert.throws(() => sim.usdt("app:request", { args: [1, 2], spec: "8@%rax -4@$-1" }), /argument 2 \(-4@\$-1\) is the constant -1 at this site, not 2/);
  assert.throws(() => sim.usdt("app:request", { args: [1], spec: "8@counter(%rip)" }), /USDT site "8@counter\(%rip\)": /);
  assert.throws(() => sim.usdt("app:response", { args: [] }), /no usdt probe app:response in the object/);
  assert.throws(() => sim.usdt("app:request", { args: [1, 2], spec: "8@%rax 8@%rax" }), /both live in register ax with different values/);
});
