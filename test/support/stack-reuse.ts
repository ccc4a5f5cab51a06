// Handlers whose stack objects can share bytes, or must not, shared by the suites that check both backends' frames
// (test/compiler/stack-reuse.test.ts, test/llvm/stack-reuse.test.ts): each a probe file firing kprobe "f" with `args`.

export interface StackCase {
  text: string;
  args: number[];
}

const probe = (body: string, args: number[] = [0]): StackCase => ({
  text: `import { kprobe, printf, HashMap, type u32, type u64, type Str } from "tsbpf";
export const license = "GPL";
${body}`,
  args,
});

/** Forty map updates, each with its own key and value: one key's and value's bytes at a time are enough. */
export const fortyUpdates = probe(`export const counts = new HashMap<u32, u64>(64);
export const k = kprobe("f", () => {
${Array.from({ length: 40 }, (_, i) => `  counts.increment(${i});`).join("\n")}
});
`);

/** A value read on every turn of a loop, beside values of the body that come and go. */
export const loopValue = probe(`export const k = kprobe("f", (n: u64) => {
  const first: Str<16> = "first";
  for (let i = 0; i < 3; i++) {
    printf("%s\\n", first);
    const second: Str<16> = "second";
    printf("%s\\n", second);
  }
});
`);

/** Values whose addresses one printf holds: all live until it runs. */
export const printfHolds = probe(`function named(s: Str<8>): Str<8> { const copy: Str<8> = s; return copy; }
export const k = kprobe("f", () => {
  const a = named("aa");
  const b = named("bb");
  const c = named("cc");
  printf("%s %s %s\\n", a, b, c);
});
`);

/** Switch cases that each build a 40-byte key: one key's bytes are enough. */
export const switchKeys = probe(
  `interface Key { name: Str<16>; kind: Str<16>; n: u32 }
export const ops = new HashMap<Key, u64>(64);
function note(kind: Str<16>, n: u32) {
  const key: Key = { name: "x", kind, n };
  ops.increment(key);
  printf("%s %d\\n", key.kind, key.n);
}
export const k = kprobe("f", (id: u64) => {
  switch (id) {
${Array.from({ length: 12 }, (_, i) => `    case ${i}: note("k${i}", ${i}); break;`).join("\n")}
  }
});
`,
  [7],
);

/**
 * A 24-byte key whose bytes carry a count around a loop, and a key built on every turn from it: both are live at
 * once, so they need bytes of their own (48 at least).
 */
export const carriedKey = probe(`interface Key { name: Str<16>; n: u32 }
export const seen = new HashMap<Key, u64>(64);
export const k = kprobe("f", (n: u64) => {
  const outer: Key = { name: "outer", n: 1 };
  for (let i: u32 = 0; i < 4; i++) {
    seen.increment(outer);
    const inner: Key = { name: "inner", n: outer.n + i };
    seen.increment(inner);
    outer.n = inner.n * 2;
  }
  printf("%d\\n", outer.n);
});
`);
