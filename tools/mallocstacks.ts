// mallocstacks: bytes asked of malloc(), summed by the user stack that asked, as bcc's stackcount/memleak
// tracing a libc function by stack (bpftrace: `uprobe:libc:malloc { @[ustack] = sum(arg0); }`). Every
// process's malloc calls are counted unless -c or -p names one: uprobes then fire in that process only.
//   npx tsbpf run tools/mallocstacks.ts -c "ls -l /usr/bin"
import { uprobe, ustack, HashMap, type u64, type UserStack } from "tsbpf";

export const license = "GPL";

/** Bytes by the stack of the malloc() call, its innermost 16 frames. */
export const bytes = new HashMap<UserStack<16>, u64>(10240);
/** Calls by stack: a stack with many small calls stands out here and not in bytes. */
export const calls = new HashMap<UserStack<16>, u64>(10240);

export const malloc = uprobe("libc.so.6", "malloc", (size: u64) => {
  const stack = ustack(16);
  bytes.increment(stack, size);
  calls.increment(stack);
});
