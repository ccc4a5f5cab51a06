// funccount: calls of every function a glob matches, counted by function (bcc's `funccount 'c:*alloc'`, bpftrace's
// `uprobe:libc:*alloc { @[probe] = count(); }`). A uprobe glob attaches one probe per matched function, and probe()
// says which fired. Edit LIBRARY and FUNCTIONS for other functions (`tsbpf list 'uprobe:LIBRARY:GLOB'` shows what a
// glob matches), or write a tracepoint glob the same way: tracepoint("syscalls", "sys_enter_*", ...).
// Run: npx tsbpf run tools/funccount.ts -c "ls -l /usr/bin"    (or --duration S for every process)
import { uprobe, probe, pidTgid, targetPid, HashMap, type ProbeName, type u64 } from "tsbpf";

export const license = "GPL";

const LIBRARY = "libc.so.6";
const FUNCTIONS = "*alloc";

/** Calls by the function (the probe) that was called. */
export const calls = new HashMap<ProbeName, u64>(1024);

export const count = uprobe(LIBRARY, FUNCTIONS, () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  calls.increment(probe());
});
