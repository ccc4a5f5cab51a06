// The VM's BPF maps: one import for every map type, the registry and the shared constants.
// Takes nothing; gives the public names of runtime/vm/maps.

export * from "./base.js";
export * from "./hash.js";
export * from "./array.js";
export * from "./ringbuf.js";
export * from "./perf.js";
export * from "./progarray.js";
export * from "./stack.js";
export * from "./mapinmap.js";
export * from "./registry.js";
