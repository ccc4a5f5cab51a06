// Where the CPUs spend their time, as bpftrace's `profile:hz:99 { @[comm, kstack, ustack] = count(); }`: 99 times a
// second on every CPU, the interrupted task's name, kernel stack and user stack, counted; the most frequent print last.
//   tsbpf run examples/cpu-stacks.ts -c "dd if=/dev/zero of=/dev/null bs=1M count=20000"   (-c or -p: only its samples)
import { profile, comm, kstack, pidTgid, targetPid, ustack, HashMap, type KernelStack, type Str, type u64, type UserStack } from "tsbpf";

export const license = "GPL";

interface Sample {
  comm: Str<16>;
  kernel: KernelStack;
  user: UserStack;
}

export const samples = new HashMap<Sample, u64>(10240);

export const sample = profile(99, () => {
  if (targetPid() !== 0 && pidTgid() >> 32 !== targetPid()) return;
  samples.increment({ comm: comm(), kernel: kstack(), user: ustack() });
});
