// The BPF virtual machine: address space, tiers, maps, helpers and the simulated kernel.
export * from "./memory.js";
export * from "./env.js";
export * from "./vm.js";
export * from "./tiers.js";
export * from "./kernel.js";
export * from "./maps/index.js";
export { createHelpers, createVmEnv, type CreateVmEnvOptions } from "./helpers/index.js";
