// One LRU list of the kernel (struct bpf_lru_list in kernel/bpf/bpf_lru_list.c): its free, active and inactive
// lists, the rotations between them and the shrinks that pick which elements to evict. Takes the nodes (a map's
// elements, by slot, in doubly linked lists as the kernel's list_head) and a callback that removes an element's key
// from the map; gives the operations ./lru.ts builds the common and per-CPU LRUs from.

/** Elements (indexes below `elems`) and list heads (the indexes after) in doubly linked lists, with ref bits. */
export class LruNodes {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** The head of the list each element is on. */
  readonly on: Int32Array;
  readonly ref: Uint8Array;
  private heads = 0;
  constructor(readonly elems: number, heads: number) {
    this.next = new Int32Array(elems + heads);
    this.prev = new Int32Array(elems + heads);
    this.on = new Int32Array(elems);
    this.ref = new Uint8Array(elems);
  }
  /** An empty list's head (one of the `heads` reserved). */
  newHead(): number {
    const h = this.elems + this.heads++;
    this.next[h] = this.prev[h] = h;
    return h;
  }
  empty(head: number): boolean {
    return this.next[head] === head;
  }
  unlink(n: number): void {
    this.next[this.prev[n]!] = this.next[n]!;
    this.prev[this.next[n]!] = this.prev[n]!;
  }
  /** list_add: at the head. */
  addHead(n: number, head: number): void {
    const first = this.next[head]!;
    this.next[n] = first;
    this.prev[n] = head;
    this.prev[first] = n;
    this.next[head] = n;
    this.on[n] = head;
  }
  /** list_move. */
  moveHead(n: number, head: number): void {
    this.unlink(n);
    this.addHead(n, head);
  }
  /** list_del of the first element, if any. */
  popFirst(head: number): number | undefined {
    const n = this.next[head]!;
    if (n === head) return undefined;
    this.unlink(n);
    return n;
  }
}

export class LruList {
  readonly FREE: number;
  readonly ACTIVE: number;
  readonly INACTIVE: number;
  private activeCount = 0;
  private inactiveCount = 0;
  /** Where the next inactive rotation starts (an element or the inactive list's head). */
  private nextInactiveRotation: number;

  /** `nrScans`: the most elements a rotation or shrink visits. `evict(slot)`: the kernel's del_from_htab. */
  constructor(private readonly nodes: LruNodes, private readonly nrScans: number, private readonly evict: (slot: number) => boolean) {
    this.FREE = nodes.newHead();
    this.ACTIVE = nodes.newHead();
    this.INACTIVE = nodes.newHead();
    this.nextInactiveRotation = this.INACTIVE;
  }

  private count(head: number, by: number): void {
    if (head === this.ACTIVE) this.activeCount += by;
    else if (head === this.INACTIVE) this.inactiveCount += by;
  }

  /** __bpf_lru_node_move_in: from a CPU's local list to the head of the active (looked up) or inactive list. */
  moveIn(n: number): void {
    const head = this.nodes.ref[n] ? this.ACTIVE : this.INACTIVE;
    this.count(head, 1);
    this.nodes.ref[n] = 0;
    this.nodes.moveHead(n, head);
  }

  /** __bpf_lru_node_move: to the head of this list's free, active or inactive list; clears the ref bit. */
  move(n: number, head: number): void {
    this.count(this.nodes.on[n]!, -1);
    this.count(head, 1);
    this.nodes.ref[n] = 0;
    if (n === this.nextInactiveRotation) this.nextInactiveRotation = this.nodes.prev[n]!;
    this.nodes.moveHead(n, head);
  }

  /** __bpf_lru_node_move_to_free, off this list into `into` (the caller puts them on a free list). */
  take(n: number, into: number[]): void {
    if (n === this.nextInactiveRotation) this.nextInactiveRotation = this.nodes.prev[n]!;
    this.count(this.nodes.on[n]!, -1);
    this.nodes.unlink(n);
    into.push(n);
  }

  /** __bpf_lru_list_rotate: the active list when it outnumbers the inactive one, then the inactive list. */
  rotate(): void {
    if (this.inactiveCount < this.activeCount) this.rotateActive();
    this.rotateInactive();
  }

  /** From the active list's tail: looked up elements back to its head, the others to the inactive list. */
  private rotateActive(): void {
    const { next, prev, ref } = this.nodes;
    const first = next[this.ACTIVE]!;
    let n = prev[this.ACTIVE]!;
    for (let i = 1; n !== this.ACTIVE; i++) {
      const older = prev[n]!;
      this.move(n, ref[n] ? this.ACTIVE : this.INACTIVE);
      if (i === this.nrScans || n === first) break;
      n = older;
    }
  }

  /** Resume scanning the inactive list where the last rotation stopped, moving looked up elements to the active list. */
  private rotateInactive(): void {
    const { next, prev, ref } = this.nodes;
    const head = this.INACTIVE;
    if (next[head] === head) return;
    let last = next[this.nextInactiveRotation]!;
    if (last === head) last = next[last]!;
    let cur = this.nextInactiveRotation;
    let newer = head;
    for (let i = 0; i < this.nrScans; ) {
      if (cur === head) {
        cur = prev[cur]!;
        continue;
      }
      newer = prev[cur]!;
      if (ref[cur]) this.move(cur, this.ACTIVE);
      if (cur === last) break;
      cur = newer;
      i++;
    }
    this.nextInactiveRotation = newer;
  }

  /** From the inactive list's tail: evict up to `target` elements not looked up, activating those that were. */
  private shrinkInactive(target: number, into: number[]): number {
    const { prev, ref } = this.nodes;
    let shrunk = 0;
    let n = prev[this.INACTIVE]!;
    for (let i = 1; n !== this.INACTIVE; i++) {
      const older = prev[n]!;
      if (ref[n]) this.move(n, this.ACTIVE);
      else if (this.evict(n)) {
        this.take(n, into);
        if (++shrunk === target) break;
      }
      if (i === this.nrScans) break;
      n = older;
    }
    return shrunk;
  }

  /** __bpf_lru_list_shrink: when the inactive shrink finds none, evict one from a tail ignoring ref bits. */
  shrink(target: number, into: number[]): void {
    if (this.shrinkInactive(target, into) > 0) return;
    const list = this.nodes.empty(this.INACTIVE) ? this.ACTIVE : this.INACTIVE;
    for (let n = this.nodes.prev[list]!; n !== list; n = this.nodes.prev[n]!) {
      if (this.evict(n)) {
        this.take(n, into);
        return;
      }
    }
  }
}
