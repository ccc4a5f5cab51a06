// execsnoop: every exec(2) that succeeds as a typed event (pid, uid, task name, the file executed) through a
// ring buffer. The tracepoint sched:sched_process_exec records the file name as a `__data_loc` string (bytes
// after the record's fixed fields); assigning `ctx.filename` to a Str<N> copies up to N - 1 of them.
import { tracepoint, uidGid, comm, RingBuf, type u32, type Str } from "tsbpf";

export const license = "GPL";

export interface ExecEvent {
  pid: u32;
  uid: u32;
  comm: Str<16>;
  filename: Str<128>;
}

export const events = new RingBuf<ExecEvent>(256 * 1024);

export const exec = tracepoint("sched", "sched_process_exec", (ctx) => {
  const e = events.reserve();
  if (e === null) return 0; // the buffer is full: drop the event
  e.pid = ctx.pid;
  e.uid = uidGid() as u32;
  e.comm = comm();
  e.filename = ctx.filename;
  events.submit(e);
  return 0;
});
