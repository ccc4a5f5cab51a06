// Pools of reusable run objects (stacks, images, run states) kept per owner (an address space or a program), so a
// run allocates nothing to start. Takes the owner; gives its pool. The owner used last is checked first: runs mostly
// follow runs of the same one, and this is on every run's path.

export class OwnerPools<K extends object, V> {
  private readonly pools = new WeakMap<K, V[]>();
  private lastOwner: K | undefined = undefined;
  private lastPool: V[] = [];

  /** The pool of `owner`, made empty on first use. */
  of(owner: K): V[] {
    if (owner !== this.lastOwner) {
      let pool = this.pools.get(owner);
      if (pool === undefined) this.pools.set(owner, (pool = []));
      this.lastOwner = owner;
      this.lastPool = pool;
    }
    return this.lastPool;
  }
}
