// BPF atomic operations on VM memory, shared by the interpreter and the compiled tier so that
// both apply exactly the same semantics.
// Takes the address as int32 halves plus a 16-bit offset, the operand and r0; gives the old value.
import { REGION_BASE, type Memory } from "./memory.js";

/** Upper half of (hi:lo) + off for a 16-bit signed `off`. */
export const addrHi = (hi: number, lo: number, off: number): number => {
  const s = (lo >>> 0) + off;
  return s > 0xffffffff ? (hi + 1) | 0 : s < 0 ? (hi - 1) | 0 : hi;
};

/** 32-bit atomic `op` (the insn's imm) at (dh:dl)+off with operand v; returns the old value (int32). */
export function atomic32(mem: Memory, dh: number, dl: number, off: number, v: number, r0: number, op: number): number {
  const lo = (dl + off) | 0;
  const view = mem.resolve(addrHi(dh, dl, off), lo, 4, true).view;
  const o = (lo - REGION_BASE) >>> 0;
  const old = view.getInt32(o, true);
  switch (op) {
    case 0x00:
    case 0x01:
      view.setInt32(o, (old + v) | 0, true);
      break;
    case 0x40:
    case 0x41:
      view.setInt32(o, old | v, true);
      break;
    case 0x50:
    case 0x51:
      view.setInt32(o, old & v, true);
      break;
    case 0xa0:
    case 0xa1:
      view.setInt32(o, old ^ v, true);
      break;
    case 0xe1:
      view.setInt32(o, v, true);
      break;
    case 0xf1:
      if (old === r0) view.setInt32(o, v, true);
      break;
  }
  return old;
}

/** 64-bit atomic `op` at (dh:dl)+off with operand (vh:vl); the old value goes to out[0..1]. */
export function atomic64(mem: Memory, dh: number, dl: number, off: number, vl: number, vh: number, r0l: number, r0h: number, op: number, out: Int32Array): void {
  const lo = (dl + off) | 0;
  const view = mem.resolve(addrHi(dh, dl, off), lo, 8, true).view;
  const o = (lo - REGION_BASE) >>> 0;
  const oldL = view.getInt32(o, true);
  const oldH = view.getInt32(o + 4, true);
  out[0] = oldL;
  out[1] = oldH;
  let nl = vl;
  let nh = vh;
  switch (op) {
    case 0x00:
    case 0x01: {
      const sum = (oldL >>> 0) + (vl >>> 0);
      nl = sum | 0;
      nh = (oldH + vh + (sum > 0xffffffff ? 1 : 0)) | 0;
      break;
    }
    case 0x40:
    case 0x41:
      nl = oldL | vl;
      nh = oldH | vh;
      break;
    case 0x50:
    case 0x51:
      nl = oldL & vl;
      nh = oldH & vh;
      break;
    case 0xa0:
    case 0xa1:
      nl = oldL ^ vl;
      nh = oldH ^ vh;
      break;
    case 0xe1:
      break;
    case 0xf1:
      if (oldL === r0l && oldH === r0h) {
        view.setInt32(o, vl, true);
        view.setInt32(o + 4, vh, true);
      }
      return;
  }
  view.setInt32(o, nl, true);
  view.setInt32(o + 4, nh, true);
}
