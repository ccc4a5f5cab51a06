// runtime/sys: every syscall tsbpf makes, behind the `Sys` interface, and kernel feature probes.
// Takes nothing; gives `openSys()` (the real kernel through koffi, loaded on first use), `FakeSys` for tests,
// the ABI constants, and probes that return a reason string when a feature is missing (undefined when present),
// shaped for `test(name, { skip: reason }, ...)`. The loader imports kernel.ts itself, so that `tsbpf run` does
// not load FakeSys.

export * from "./constants.js";
export * from "./sys.js";
export * from "./kernel.js";
export { FakeSys, type FakeSysOptions, type FakeTestRun, type FakePerfEvent, type FakeFdKind } from "./fake.js";
export { LinuxSys, countCpus, cpuList } from "./linux.js";
export { VMLINUX_BTF, readBtfFile } from "./btf-file.js";
