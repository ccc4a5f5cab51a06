// tsbpf/test: unit-testing probes in the VM, without root or a kernel. `simulate()` loads a probe
// (TypeScript or a compiled object) as the loader would, checked by the verifier model; the
// Simulation fires its programs over a simulated kernel and shows what they did.
export { simulate, Simulation, type SimulateOptions, type FireOptions, type KprobeOptions, type RetprobeOptions, type UsdtOptions, type PerfEventOptions, type ProfileOptions, type IntervalOptions, type FireResult, type ProgramRun, type ProgramStats } from "./simulate.js";
export { SimulationError, type SimulationErrorKind } from "./errors.js";
export { TestKernel, Pointer, type AllocOptions, type Space } from "./kernel.js";
export { MapView } from "./maps.js";
export { parseFormat, ptRegs, tracepointRecord, type Arch, type TracepointLayout, type TracepointField } from "./context.js";
export type { CValue, Decoded, TypeRef } from "./layout.js";
export type { ProbeSource, LoadOptions } from "./load.js";
export type { SourceLocation } from "./source.js";
export { readRecording, replay, type Recording, type RecordedHit } from "./replay.js";
export type { RecordedProbe } from "./recorded-probe.js";
