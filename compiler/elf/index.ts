// ELF64 for BPF objects: the reader (generic and libbpf views), the writer and shared constants.
export * from "./types.js";
export * from "./read.js";
export * from "./write.js";
