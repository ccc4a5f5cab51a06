// libbpf's USDT convention (usdt.bpf.h), shared by the code that reads it (compiler/frontend/usdt.ts) and the loader
// that writes it (runtime/loader/usdt.ts): the map's name, and the byte layout of struct __bpf_usdt_spec.

/** The array map a USDT program reads its site's spec from, indexed by the attach cookie. */
export const USDT_SPECS_MAP = "__bpf_usdt_specs";
/** Arguments a spec describes (BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;

/** `enum __bpf_usdt_arg_type`. */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

/** struct __bpf_usdt_arg_spec: u64 val_off; enum arg_type; short reg_off; bool arg_signed; char arg_bitshift. */
export const ArgSpec = { SIZE: 16, VAL_OFF: 0, ARG_TYPE: 8, REG_OFF: 12, ARG_SIGNED: 14, ARG_BITSHIFT: 15 } as const;

/** struct __bpf_usdt_spec: args[12]; u64 usdt_cookie; short arg_cnt; padded to 8 bytes. */
export const UsdtSpec = { USDT_COOKIE: USDT_MAX_ARGS * ArgSpec.SIZE, ARG_CNT: USDT_MAX_ARGS * ArgSpec.SIZE + 8, SIZE: 208 } as const;
