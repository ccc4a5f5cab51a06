// A CPU sampler, as bpftrace's `profile:hz:99 { @samples[comm] = count(); }`: 99 times a second on every CPU,
// count one sample for the task running there (the idle task is "swapper/N"), and print the counts at exit.
import { profile, comm, HashMap, type Str, type u64 } from "tsbpf";

export const license = "GPL";

export const samples = new HashMap<Str<16>, u64>(10240);

export const sample = profile(99, () => {
  samples.increment(comm());
});
