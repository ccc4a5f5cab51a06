// BPF Type Format: the data model, parsing of .BTF/.BTF.ext and vmlinux, emitting, and CO-RE resolution.
export * from "./types.js";
export * from "./parse.js";
export * from "./emit.js";
export * from "./core.js";
export * from "./tags.js";
