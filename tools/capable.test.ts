// Unit tests for tools/capable.ts: capability checks with the capability's name and the verdict, for every process
// or only the one tsbpf run -c/-p names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";
import { tracepointFormats } from "../test/support/fixture-kernel.js";

const FORMATS = tracepointFormats("capability/cap_capable");
const columns = (line: string) => line.trim().split(/\s+/).slice(1); // less the time
const check = (cap: number, ret: number) => ({ cred: 0xffff_8880_0000_1000n, target_ns: 0, capable_ns: 0, cap, ret });

test("capable: each check with its uid, task, capability by name and verdict", async () => {
  const sim = await simulate("tools/capable.ts", { tracepointFormats: FORMATS });
  sim.begin();
  sim.tracepoint("capability", "cap_capable", check(18, 0), { pid: 80, comm: "chroot" });
  sim.tracepoint("capability", "cap_capable", check(21, -1), { pid: 81, uid: 65534, comm: "unshare" });
  sim.tracepoint("capability", "cap_capable", check(41, 0), { pid: 82, uid: 0, comm: "future" });
  const [head, ...rows] = sim.output().trimEnd().split("\n");
  assert.deepEqual(head!.trim().split(/\s+/), ["TIME", "UID", "PID", "COMM", "CAP", "NAME", "VERDICT"]);
  assert.match(rows[0]!, /^\d\d:\d\d:\d\d /);
  assert.deepEqual(rows.map(columns), [
    ["0", "80", "chroot", "18", "CAP_SYS_CHROOT", "allow"],
    ["65534", "81", "unshare", "21", "CAP_SYS_ADMIN", "deny"],
    ["0", "82", "future", "41", "?", "allow"],
  ]);
});

test("capable: with a target process (-c, -p) other processes' checks are left out", async () => {
  const sim = await simulate("tools/capable.ts", { tracepointFormats: FORMATS, targetPid: 90 });
  sim.tracepoint("capability", "cap_capable", check(12, 0), { pid: 91, comm: "other" });
  sim.tracepoint("capability", "cap_capable", check(13, 0), { pid: 90, comm: "ping" });
  assert.deepEqual(sim.output().trimEnd().split("\n").map(columns), [["0", "90", "ping", "13", "CAP_NET_RAW", "allow"]]);
});
