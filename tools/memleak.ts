// memleak: bytes allocated through libc and not yet freed, summed by the user stack that allocated them, as bcc's
// memleak (and a bpftrace malloc/free pair) shows them: malloc(), calloc() and realloc() record each block's size and
// stack at their return, under the address they returned; free() and realloc() take the block back off its stack's
// sum. What is left at exit is outstanding. Blocks allocated before the run began are not known, so their free() is
// not counted. Uprobes on libc fire in every process unless -c or -p names one.
//   npx tsbpf run tools/memleak.ts -c "ls -l /usr/bin"
import { uprobe, uretprobe, pidTgid, ustack, HashMap, Sum, type u64, type UserStack } from "tsbpf";

export const license = "GPL";

interface Block {
  size: u64;
  stack: UserStack<16>;
}

/** The size asked for by the call under way, by thread (pidTgid(): the thread id is its low half). */
const asked = new HashMap<u64, u64>(10240);
/** Blocks not freed yet, by address (preallocated: about 30 MiB of kernel memory at this size). */
const blocks = new HashMap<u64, Block>(262144);

/** Bytes outstanding, by the allocating stack (a stack whose blocks were all freed shows 0). */
export const outstanding = new Sum<UserStack<16>>(10240);
/** Blocks outstanding, by the allocating stack (a Sum, as a Count only goes up). */
export const allocations = new Sum<UserStack<16>>(10240);

function enter(size: u64) {
  asked.update(pidTgid(), size);
}

function allocated(address: u64) {
  const thread = pidTgid();
  const size = asked.lookup(thread);
  if (size === null) return; // called before the probe was attached
  const bytes = size; // a number now: the entry goes next
  asked.delete(thread);
  if (address === 0) return; // the allocation failed
  const stack = ustack(16);
  blocks.update(address, { size: bytes, stack });
  outstanding.record(stack, bytes);
  allocations.record(stack, 1);
}

function freed(address: u64) {
  const block = blocks.lookup(address);
  if (block === null) return; // allocated before the run, or not through these calls
  outstanding.record(block.stack, -block.size);
  allocations.record(block.stack, -1);
  blocks.delete(address);
}

export const malloc = uprobe("libc.so.6", "malloc", (size: u64) => enter(size));
export const mallocRet = uretprobe("libc.so.6", "malloc", (address: u64) => allocated(address));
export const calloc = uprobe("libc.so.6", "calloc", (n: u64, size: u64) => enter(n * size));
export const callocRet = uretprobe("libc.so.6", "calloc", (address: u64) => allocated(address));
// realloc(p, n) frees p (when it returns a block) and allocates n bytes.
export const realloc = uprobe("libc.so.6", "realloc", (address: u64, size: u64) => {
  freed(address);
  enter(size);
});
export const reallocRet = uretprobe("libc.so.6", "realloc", (address: u64) => allocated(address));
export const free = uprobe("libc.so.6", "free", (address: u64) => freed(address));
