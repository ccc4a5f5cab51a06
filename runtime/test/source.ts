// Instructions back to source lines: the loader's line-info map (runtime/loader/lines.ts), which the
// simulator uses for fault and verifier messages exactly as the loader does for the kernel's.
export { SourceMap, formatLocation, lineInfo, type SourceLocation } from "../loader/lines.js";
