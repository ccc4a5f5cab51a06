// The verifier model: a static checker of BPF programs that follows the kernel's verifier rules.
export { verify, describeError, gaveUp, notModelled, passedLimit, COMPLEXITY_LIMIT, TRACE_RAW_TP, type VerifyOptions, type VerifyResult, type VerifyError } from "./verify.js";
export { VerifierError } from "./env.js";
export { ProgTypeId, progTypeFromName, progTypeName, uncheckedReason } from "./progtypes.js";
export type { MapDesc, MapShape } from "./state.js";
export { tracepointContext, type TracepointContext } from "./btf-types.js";
