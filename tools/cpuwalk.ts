// cpuwalk: which CPUs run work, as bpftrace's tools/cpuwalk.bt: 99 times a second on every CPU, a sample of the
// CPU's number unless it is idle, in a linear histogram with one bucket per CPU (up to 64). A balanced load
// shows even bars; one busy thread, one tall bar (or bars that move as the scheduler migrates it).
//   npx tsbpf run tools/cpuwalk.ts --duration 5
import { profile, pidTgid, smpProcessorId, LinearHistogram } from "tsbpf";

export const license = "GPL";

export const cpus = new LinearHistogram(0, 64, 1);

export const sample = profile(99, () => {
  if (pidTgid() === 0) return; // the idle task (swapper/N)
  cpus.record(smpProcessorId());
});
