// The format check of the kernel's bpf_bprintf_prepare (kernel/bpf/helpers.c), on its own so that the verifier, which
// runs the same check on bpf_snprintf's constant format at load (check_bpf_snprintf_call), can use it without the
// simulated kernel.
//
// Accepted, as in the kernel: %% and, after optional flags [0 +-] and a width, %d %i %u %x %X with
// l / ll, %c, %s (followed by NUL, space or punctuation), %p alone, %pK %px %ps %pS %pB,
// %pks %pus, %pI4 %pi4 %pI6 %pi6. No precision, no '#', no h/z/t.

const isAsciiByte = (c: number): boolean => c < 0x80;
const isPrint = (c: number): boolean => c >= 0x20 && c <= 0x7e;
// The kernel's ctype table (lib/ctype.c) covers Latin-1 too.
const isSpace = (c: number): boolean => (c >= 9 && c <= 13) || c === 0x20 || c === 0xa0;
const isPunct = (c: number): boolean =>
  (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e) ||
  (c >= 0xa1 && c <= 0xbf) || c === 0xd7 || c === 0xf7;
export const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
export const ch = (s: string): number => s.charCodeAt(0);

// What bpf_bprintf_prepare captures for each conversion, in order (FormatPlan.steps).
export const S_NUM4 = 0;
export const S_NUM8 = 1;
/** %p %pK %px %ps %pS: rendered from kernel state (hashing, kptr_restrict, symbols). */
export const S_PTR = 2;
export const S_PB = 3;
/** +1: %pI (dotted without padding / colons); +2: IPv6. */
export const S_IP = 4;
export const S_CHAR = 8;
export const S_STR = 9;
export const S_STR_K = 10;
export const S_STR_U = 11;

/**
 * Walks the format `fmt` (its NUL at `nul`) for `numArgs` arguments, calling `push` with each conversion's capture step
 * in order; false at the first byte or conversion the kernel refuses (-EINVAL), or at a conversion beyond `numArgs`.
 */
export function scanFormat(fmt: Uint8Array, nul: number, numArgs: number, push: (step: number) => void): boolean {
  const at = (i: number): number => (i < fmt.length ? fmt[i]! : 0);
  let count = 0;
  const conversion = (step: number): void => {
    count++;
    push(step);
  };
  for (let i = 0; i < nul; i++) {
    let c = at(i);
    if (isAsciiByte(c) && !isPrint(c) && !isSpace(c)) {
      return false;
    }
    if (c !== ch("%")) continue;
    if (at(i + 1) === ch("%")) {
      i++;
      continue;
    }
    if (count >= numArgs) {
      return false;
    }
    i++;
    c = at(i);
    if (!isAsciiByte(c)) {
      return false;
    }
    while (at(i) === ch("0") || at(i) === ch("+") || at(i) === ch("-") || at(i) === ch(" ")) i++;
    if (at(i) >= ch("1") && at(i) <= ch("9")) {
      i++;
      while (isDigit(at(i))) i++;
    }

    let strType = 0;
    if (at(i) === ch("p")) {
      const n1 = at(i + 1);
      if (n1 === 0 || isSpace(n1) || isPunct(n1)) {
        conversion(S_PTR);
        continue;
      }
      if ((n1 === ch("k") || n1 === ch("u")) && at(i + 2) === ch("s")) {
        strType = n1;
        i += 2;
      } else if (n1 === ch("K") || n1 === ch("x") || n1 === ch("s") || n1 === ch("S")) {
        i++;
        conversion(S_PTR);
        continue;
      } else if (n1 === ch("B")) {
        conversion(S_PB);
        i++;
        continue;
      } else {
        if ((n1 !== ch("i") && n1 !== ch("I")) || (at(i + 2) !== ch("4") && at(i + 2) !== ch("6"))) {
          return false;
        }
        i += 2;
        conversion(S_IP + (at(i - 1) === ch("I") ? 1 : 0) + (at(i) === ch("6") ? 2 : 0));
        continue;
      }
    } else if (at(i) === ch("s")) {
      strType = ch("s");
    } else if (at(i) === ch("c")) {
      conversion(S_CHAR);
      continue;
    }

    if (strType !== 0) {
      const n = at(i + 1);
      if (n !== 0 && !isSpace(n) && !isPunct(n)) {
        return false;
      }
      conversion(strType === ch("s") ? S_STR : strType === ch("k") ? S_STR_K : S_STR_U);
      continue;
    }

    let size: 4 | 8 = 4;
    if (at(i) === ch("l")) {
      size = 8;
      i++;
    }
    if (at(i) === ch("l")) i++;
    const conv = at(i);
    if (conv !== ch("i") && conv !== ch("d") && conv !== ch("u") && conv !== ch("x") && conv !== ch("X")) {
      return false;
    }
    conversion(size === 8 ? S_NUM8 : S_NUM4);
  }
  return true;
}
