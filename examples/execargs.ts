// execsnoop with arguments: each execve(2) with its first arguments, as libbpf-tools' execsnoop reads them.
// argv is an array of user pointers: readUser<u64> reads one pointer (zero past the end, or where the
// memory faults) and readUserStr the string it points to, straight into the event's slot.
import { tracepoint, pidTgid, comm, readUser, readUserStr, RingBuf, type u32, type u64, type Str, type Arr } from "tsbpf";

export const license = "GPL";

const MAX_ARGS = 6;

export interface Exec {
  pid: u32;
  argc: u32; // arguments read, at most MAX_ARGS
  comm: Str<16>;
  args: Arr<Str<48>, 6>;
}

export const execs = new RingBuf<Exec>(256 * 1024);

export const execve = tracepoint("syscalls", "sys_enter_execve", (ctx) => {
  const e = execs.reserve();
  if (e === null) return; // the buffer is full: drop the event
  e.pid = pidTgid() >> 32;
  e.comm = comm();
  for (let i = 0; i < MAX_ARGS; i++) {
    const arg = readUser<u64>(ctx.argv + i * 8);
    if (arg === 0) break;
    e.args[i] = readUserStr(arg);
    e.argc++;
  }
  execs.submit(e);
});
