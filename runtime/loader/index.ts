// runtime/loader: BPF ELF objects into the kernel. Parse and relocate (pure: object.ts, relocate.ts,
// btf-maps.ts), create maps and load programs (load.ts; pins in pin.ts, initial slots in slots.ts), attach them
// (attach.ts), read bpf_printk output (trace.ts), stream ring/perf buffers (ringbuf.ts, perfbuf.ts), decode by
// BTF (decode.ts, maps.ts), print histograms (histogram.ts) and merge aggregates (aggregate.ts), and own every fd in a Session (session.ts). Every
// syscall goes through runtime/sys.
export * from "./errors.js";
export * from "./object.js";
export * from "./relocate.js";
export * from "./btf-maps.js";
export * from "./core.js";
export * from "./externs.js";
export * from "./load.js";
export * from "./pin.js";
export * from "./btf-load.js";
export * from "./btf-sanitize.js";
export * from "./lines.js";
export * from "./attach.js";
export * from "./elfsym.js";
export * from "./usdt.js";
export * from "./trace.js";
export * from "./session.js";
export * from "./ringbuf.js";
export * from "./perfbuf.js";
export * from "./events.js";
export * from "./decode.js";
export * from "./maps.js";
export * from "./histogram.js";
export * from "./aggregate.js";
export * from "./globals.js";
