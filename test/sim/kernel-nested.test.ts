// The simulator on probes that read kernel structs through members embedded by value and arrays:
// values placed with sim.kernel.alloc's nested objects come back through one probe read per chain
// (CO-RE relocated against the running kernel's BTF), a char array as a string, an int array's
// elements by constant and variable index.

import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "../../runtime/test/index.js";
import { compile } from "../../compiler/index.js";
import { EXEC_FORMAT, needsVmlinux } from "./support.js";

const PROBE = {
  fileName: "nested.ts",
  text: `import { kprobe, printk, RingBuf, type Ptr, type Str, type u16, type u32 } from "tsbpf";
import type { sock, task_struct } from "tsbpf/kernel";
export const license = "GPL";

export interface Conn { family: u16; dport: u16; daddr6: u32; comm: Str<16>; }
export const conns = new RingBuf<Conn>(4096);

export const connect = kprobe("tcp_connect", (sk: Ptr<sock>, task: Ptr<task_struct>, word: u32) => {
  const c: Conn = {
    family: sk.__sk_common.skc_family,
    dport: sk.__sk_common.skc_dport,
    daddr6: sk.__sk_common.skc_v6_daddr.in6_u.u6_addr32[3],
    comm: task.comm,
  };
  conns.output(c);
  return sk.__sk_common.skc_v6_daddr.in6_u.u6_addr32[word];
});

export const fork = kprobe("wake_up_new_task", (task: Ptr<task_struct>) => {
  const name: Str<16> = task.comm;
  printk(\`new \${name} flags \${task.thread_info.flags} \${task.comm}\`);
  return 0;
});
`,
};

interface Conn {
  family: number;
  dport: number;
  daddr6: number;
  comm: string;
}

for (const tier of ["interpreter", "compiled"] as const) {
  test(`${tier}: nested members, a char array and int array elements read what alloc placed`, needsVmlinux, async () => {
    const sim = await simulate(PROBE, { tier });
    const sk = sim.kernel.alloc("sock", {
      __sk_common: { skc_family: 10, skc_dport: 0xbb01, skc_v6_daddr: { in6_u: { u6_addr32: [1, 2, 3, 0x01020304] } } },
    });
    const task = sim.kernel.alloc("task_struct", { comm: "curl", thread_info: { flags: 0x4001 } });
    const r = sim.kprobe("tcp_connect", { args: [sk, task, 2] });
    assert.equal(r.r0, 3n, "u6_addr32[2] by a variable index");
    assert.deepEqual(sim.events<Conn>("conns"), [{ family: 10, dport: 0xbb01, daddr6: 0x01020304, comm: "curl" }]);
    // A variable index past the array ends the handler before the read (it returns 0).
    assert.equal(sim.kprobe("tcp_connect", { args: [sk, task, 4] }).r0, 0n);

    sim.kprobe("wake_up_new_task", { args: [task] });
    assert.deepEqual(sim.trace(), [`new curl flags ${0x4001} curl`]);
  });
}

test("a struct that faults reads as zeros through nested members and arrays", needsVmlinux, async () => {
  const sim = await simulate(PROBE);
  sim.kprobe("tcp_connect", { args: [sim.kernel.faulting("sock"), sim.kernel.faulting("task_struct"), 0] });
  assert.deepEqual(sim.events<Conn>("conns"), [{ family: 0, dport: 0, daddr6: 0, comm: "" }]);
});

test("a pointer inside an embedded struct, then an embedded struct behind it: file.f_path.dentry.d_name.name", needsVmlinux, async () => {
  const sim = await simulate({
    fileName: "path.ts",
    text: `import { kprobe, printk, type Ptr } from "tsbpf";
import type { file, dentry } from "tsbpf/kernel";
export const license = "GPL";
export const read = kprobe("vfs_read", (f: Ptr<file>) => {
  printk(\`read \${f.f_path.dentry.d_name.name} (\${f.f_path.dentry.d_name.len} bytes)\`);
  return 0;
});
`,
  });
  const dentry = sim.kernel.alloc("dentry", { d_name: { name: "passwd", len: 6 } });
  sim.kprobe("vfs_read", { args: [sim.kernel.alloc("file", { f_path: { dentry } })] });
  assert.deepEqual(sim.trace(), ["read passwd (6 bytes)"]);
});

test("a kernel bool member (sock.sk_use_task_frag) is a boolean: passed as one, printed and sent as true or false", needsVmlinux, async () => {
  const sim = await simulate({
    fileName: "bools.ts",
    text: `import { kprobe, printk, RingBuf, type Ptr } from "tsbpf";
import type { sock } from "tsbpf/kernel";
export const license = "GPL";
export interface Flags { frag: boolean }
export const flags = new RingBuf<Flags>(4096);
function usesTaskFrag(sk: Ptr<sock>): boolean { return sk.sk_use_task_frag; }
export const send = kprobe("tcp_sendmsg", (sk: Ptr<sock>) => {
  printk(\`frag \${sk.sk_use_task_frag}\`);
  flags.output({ frag: usesTaskFrag(sk) });
  return 0;
});
`,
  });
  sim.kprobe("tcp_sendmsg", { args: [sim.kernel.alloc("sock", { sk_use_task_frag: true })] });
  sim.kprobe("tcp_sendmsg", { args: [sim.kernel.alloc("sock", { sk_use_task_frag: false })] });
  assert.deepEqual(sim.trace(), ["frag true", "frag false"]);
  assert.deepEqual(sim.events("flags"), [{ frag: true }, { frag: false }]);
});

test("structs reached through pointers need no import of their own: file.f_path.dentry.d_parent and file.f_inode", needsVmlinux, async () => {
  const sim = await simulate({
    fileName: "pointees.ts",
    text: `import { kprobe, printk, type Ptr } from "tsbpf";
import type { file } from "tsbpf/kernel";
export const license = "GPL";
export const read = kprobe("vfs_read", (f: Ptr<file>) => {
  const d = f.f_path.dentry;
  printk(\`read \${d.d_name.name} in \${d.d_parent.d_name.name}, inode \${f.f_inode.i_ino}\`);
  return 0;
});
`,
  });
  const etc = sim.kernel.alloc("dentry", { d_name: { name: "etc" } });
  const dentry = sim.kernel.alloc("dentry", { d_name: { name: "passwd" }, d_parent: etc });
  const inode = sim.kernel.alloc("inode", { i_ino: 4242 });
  sim.kprobe("vfs_read", { args: [sim.kernel.alloc("file", { f_path: { dentry }, f_inode: inode })] });
  assert.deepEqual(sim.trace(), ["read passwd in etc, inode 4242"]);
});

test("currentTask() is the task sim.kernel.currentTask names: its parent's pid and name through real_parent", needsVmlinux, async () => {
  const sim = await simulate({
    fileName: "current.ts",
    text: `import { tracepoint, printk, currentTask } from "tsbpf";
export const license = "GPL";
export const exec = tracepoint("sched", "sched_process_exec", (ctx) => {
  const parent = currentTask().real_parent;
  printk(\`\${ctx.filename} from \${parent.comm} (\${parent.tgid})\`);
  return 0;
});
`,
  }, { tracepointFormats: { "sched/sched_process_exec": EXEC_FORMAT } });
  const bash = sim.kernel.alloc("task_struct", { comm: "bash", tgid: 100, pid: 100 });
  sim.kernel.currentTask = sim.kernel.alloc("task_struct", { comm: "ls", tgid: 101, pid: 101, real_parent: bash });
  sim.tracepoint("sched", "sched_process_exec", { filename: "/usr/bin/ls", pid: 101, old_pid: 101 });
  // Without a task placed, currentTask() is 0 and reads through it fail, giving zeros.
  sim.kernel.currentTask = 0n;
  sim.tracepoint("sched", "sched_process_exec", { filename: "/usr/bin/id", pid: 102, old_pid: 102 });
  assert.deepEqual(sim.trace(), ["/usr/bin/ls from bash (100)", "/usr/bin/id from  (0)"]);
});

test("currentTask<task_struct>(), as editors type it with tsbpf btf's declarations, compiles as currentTask(); another struct is a type error", needsVmlinux, async () => {
  const text = (struct: string) => `import { tracepoint, printk, currentTask } from "tsbpf";
import type { ${struct} } from "tsbpf/kernel";
export const license = "GPL";
export const exec = tracepoint("sched", "sched_process_exec", () => {
  printk(\`parent \${currentTask<${struct}>().real_parent.tgid}\`);
});
`;
  const sim = await simulate({ fileName: "current-typed.ts", text: text("task_struct") }, { tracepointFormats: { "sched/sched_process_exec": EXEC_FORMAT } });
  sim.kernel.currentTask = sim.kernel.alloc("task_struct", { tgid: 101, real_parent: sim.kernel.alloc("task_struct", { tgid: 100 }) });
  sim.tracepoint("sched", "sched_process_exec", { filename: "/usr/bin/ls", pid: 101, old_pid: 101 });
  assert.deepEqual(sim.trace(), ["parent 100"]);
  const wrong = compile({ fileName: "current-sock.ts", text: text("sock") }, { tracepointFormat: () => EXEC_FORMAT });
  assert.match(wrong.diagnostics.map((d) => d.message).join("\n"), /does not satisfy the constraint 'task_struct'/);
});
