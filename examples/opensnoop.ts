// opensnoop: every openat(2) as a typed event (pid, task name, file name, flags) through a ring buffer,
// as libbpf-tools' opensnoop sends them. User space reads `events` with runtime/loader's ring buffer reader.
import { tracepoint, pidTgid, uidGid, comm, readUserStr, RingBuf, type u32, type i32, type Str } from "tsbpf";

export const license = "GPL";

export interface OpenEvent {
  pid: u32;
  uid: u32;
  flags: i32;
  comm: Str<16>;
  filename: Str<128>;
}

export const events = new RingBuf<OpenEvent>(256 * 1024);

export const openat = tracepoint("syscalls", "sys_enter_openat", (ctx) => {
  const e = events.reserve();
  if (e === null) return 0; // the buffer is full: drop the event
  e.pid = pidTgid() >> 32;
  e.uid = uidGid() as u32;
  e.flags = ctx.flags as i32;
  e.comm = comm();
  e.filename = readUserStr(ctx.filename);
  events.submit(e);
  return 0;
});
