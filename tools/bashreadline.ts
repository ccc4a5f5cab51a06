// bashreadline: every command line typed into an interactive bash, with the shell's pid, as bpftrace's
// tools/bashreadline.bt and bcc's bashreadline. readline() returns the line it read: a uretprobe reads it
// from the shell's memory. (A bash linked against a shared libreadline needs "libreadline.so.8" instead.)
//   npx tsbpf run tools/bashreadline.ts          # then type commands into another terminal's bash
import { uretprobe, pidTgid, readUserStr, RingBuf, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

export interface Line {
  pid: u32;
  line: Str<128>;
}

export const lines = new RingBuf<Line>(64 * 1024);

export const readline = uretprobe("/bin/bash", "readline", (ret: u64) => {
  if (ret === 0) return; // end of input (Ctrl-D)
  lines.output({ pid: pidTgid() >> 32, line: readUserStr(ret) });
});
