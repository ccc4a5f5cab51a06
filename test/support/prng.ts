// A small deterministic random source (splitmix32 seeding a xorshift128) so that generated
// test programs are the same on every machine for the same seed.

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** A uniformly random unsigned 32-bit integer. */
  u32(): number {
    const t = this.s0 ^ (this.s0 << 11);
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.s2 = this.s3;
    this.s3 = (this.s3 ^ (this.s3 >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.s3;
  }
  /** A random signed 32-bit integer. */
  i32(): number {
    return this.u32() | 0;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
  /** A random 64-bit value, biased towards the edges where arithmetic goes wrong. */
  interesting64(): bigint {
    const edges = [0n, 1n, 2n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n];
    const r = this.below(4);
    if (r === 0) {
      const e = this.pick(edges);
      return BigInt.asUintN(64, this.chance(0.5) ? e : -e);
    }
    if (r === 1) return BigInt.asUintN(64, (1n << BigInt(this.below(64))) + BigInt(this.between(-2, 2)));
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  /** A random 32-bit immediate, biased towards edges. */
  interesting32(): number {
    return this.chance(0.5) ? this.pick([0, 1, -1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 31, 32, 63, 64]) : this.i32();
  }
}
