// The kernel's common LRU (kernel/bpf/bpf_lru_list.c, maps without BPF_F_NO_COMMON_LRU), which decides which
// elements an LRU hash map evicts. Takes the map's size, the CPUs and a callback that removes an element's key from
// the map; gives the element pool the hash map allocates from, plus `ref` for lookups.
//
// Elements ("nodes", by slot) sit on one list each: the global free, active or inactive list, or a CPU's local free
// or pending list. A CPU allocates from its local free list; when it is empty the CPU's pending elements (those it
// allocated since) move to the global active (looked up since) or inactive list, the lists rotate, and the local list
// is refilled with up to `targetFree` elements: free ones first, then ones shrunk off the inactive list's tail,
// skipping (and activating) those looked up. A lookup sets an element's ref bit, which rotations and shrinks read.

import type { ElemPool } from "./hash.js";

/** LOCAL_FREE_TARGET: a refill's most elements, and LOCAL_NR_SCANS: the most elements one rotation or shrink visits. */
const LOCAL_FREE_TARGET = 128;
const NR_SCANS = LOCAL_FREE_TARGET;

export class CommonLru implements ElemPool {
  readonly capacity: number;
  private readonly targetFree: number;
  // Doubly linked lists as in the kernel: indexes below `capacity` are elements, the rest are list heads.
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** The head of the list each element is on. */
  private readonly on: Int32Array;
  private readonly refBit: Uint8Array;
  private readonly nextSteal: number[] = [];
  private readonly FREE: number;
  private readonly ACTIVE: number;
  private readonly INACTIVE: number;
  private activeCount = 0;
  private inactiveCount = 0;
  /** Where the next inactive rotation starts (an element or the inactive list's head). */
  private nextInactiveRotation: number;

  /** `evict(slot)` removes the slot's key from the map (the kernel's del_from_htab); false if it holds none. */
  constructor(maxEntries: number, private readonly cpus: number, private readonly evict: (slot: number) => boolean) {
    this.capacity = maxEntries;
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(Math.floor(maxEntries / cpus) / 2)));
    const nodes = maxEntries + 3 + 2 * cpus;
    this.next = new Int32Array(nodes);
    this.prev = new Int32Array(nodes);
    this.on = new Int32Array(maxEntries);
    this.refBit = new Uint8Array(maxEntries);
    for (let h = maxEntries; h < nodes; h++) this.next[h] = this.prev[h] = h;
    this.FREE = maxEntries;
    this.ACTIVE = maxEntries + 1;
    this.INACTIVE = maxEntries + 2;
    this.nextInactiveRotation = this.INACTIVE;
    for (let c = 0; c < cpus; c++) this.nextSteal.push(c);
    // Slot 0 at the head: elements are handed out in slot order.
    for (let s = maxEntries - 1; s >= 0; s--) this.addHead(s, this.FREE);
  }

  private localFree(cpu: number): number {
    return this.capacity + 3 + 2 * cpu;
  }
  private pending(cpu: number): number {
    return this.capacity + 4 + 2 * cpu;
  }
  /** The CPU whose pending list `head` is, if it is one. */
  private pendingCpu(head: number): number | undefined {
    const i = head - this.pending(0);
    return i >= 0 && i % 2 === 0 ? i / 2 : undefined;
  }

  // List primitives (list_del, list_add at the head, list_move).
  private unlink(n: number): void {
    this.next[this.prev[n]!] = this.next[n]!;
    this.prev[this.next[n]!] = this.prev[n]!;
  }
  private addHead(n: number, head: number): void {
    const first = this.next[head]!;
    this.next[n] = first;
    this.prev[n] = head;
    this.prev[first] = n;
    this.next[head] = n;
    this.on[n] = head;
  }
  private moveHead(n: number, head: number): void {
    this.unlink(n);
    this.addHead(n, head);
  }

  private count(head: number, by: number): void {
    if (head === this.ACTIVE) this.activeCount += by;
    else if (head === this.INACTIVE) this.inactiveCount += by;
  }

  /** __bpf_lru_node_move: between or within the active, inactive and global free lists; clears the ref bit. */
  private move(n: number, head: number): void {
    this.count(this.on[n]!, -1);
    this.count(head, 1);
    this.refBit[n] = 0;
    if (n === this.nextInactiveRotation) this.nextInactiveRotation = this.prev[n]!;
    this.moveHead(n, head);
  }

  /** __bpf_lru_node_move_to_free, into a refill's harvest. */
  private harvest(n: number, into: number[]): void {
    if (n === this.nextInactiveRotation) this.nextInactiveRotation = this.prev[n]!;
    this.count(this.on[n]!, -1);
    this.unlink(n);
    into.push(n);
  }

  /** Move the active list's tail elements (up to NR_SCANS): looked up ones back to its head, the others to the inactive list. */
  private rotateActive(): void {
    const first = this.next[this.ACTIVE]!;
    let n = this.prev[this.ACTIVE]!;
    for (let i = 1; n !== this.ACTIVE; i++) {
      const older = this.prev[n]!;
      this.move(n, this.refBit[n] ? this.ACTIVE : this.INACTIVE);
      if (i === NR_SCANS || n === first) break;
      n = older;
    }
  }

  /** Resume scanning the inactive list where the last rotation stopped, moving looked up elements to the active list. */
  private rotateInactive(): void {
    const head = this.INACTIVE;
    if (this.next[head] === head) return;
    let last = this.next[this.nextInactiveRotation]!;
    if (last === head) last = this.next[last]!;
    let cur = this.nextInactiveRotation;
    let newer = head;
    for (let i = 0; i < NR_SCANS; ) {
      if (cur === head) {
        cur = this.prev[cur]!;
        continue;
      }
      newer = this.prev[cur]!;
      if (this.refBit[cur]) this.move(cur, this.ACTIVE);
      if (cur === last) break;
      cur = newer;
      i++;
    }
    this.nextInactiveRotation = newer;
  }

  /** From the inactive list's tail: evict up to `target` elements not looked up, activating those that were. */
  private shrinkInactive(target: number, into: number[]): number {
    let shrunk = 0;
    let n = this.prev[this.INACTIVE]!;
    for (let i = 1; n !== this.INACTIVE; i++) {
      const older = this.prev[n]!;
      if (this.refBit[n]) this.move(n, this.ACTIVE);
      else if (this.evict(n)) {
        this.harvest(n, into);
        if (++shrunk === target) break;
      }
      if (i === NR_SCANS) break;
      n = older;
    }
    return shrunk;
  }

  /** __bpf_lru_list_shrink: when the inactive shrink finds none, evict one from the tail ignoring ref bits. */
  private shrink(target: number, into: number[]): void {
    if (this.shrinkInactive(target, into) > 0) return;
    const list = this.next[this.INACTIVE] !== this.INACTIVE ? this.INACTIVE : this.ACTIVE;
    for (let n = this.prev[list]!; n !== list; n = this.prev[n]!) {
      if (this.evict(n)) {
        this.harvest(n, into);
        return;
      }
    }
  }

  /** bpf_lru_list_pop_free_to_local: flush the CPU's pending elements, rotate, and refill its (empty) local free list. */
  private refill(cpu: number): void {
    const pending = this.pending(cpu);
    for (let n = this.prev[pending]!; n !== pending; n = this.prev[pending]!) {
      const head = this.refBit[n] ? this.ACTIVE : this.INACTIVE;
      this.count(head, 1);
      this.refBit[n] = 0;
      this.moveHead(n, head);
    }
    if (this.inactiveCount < this.activeCount) this.rotateActive();
    this.rotateInactive();
    const got: number[] = [];
    for (let n = this.next[this.FREE]!; n !== this.FREE && got.length < this.targetFree; n = this.next[this.FREE]!) this.harvest(n, got);
    if (got.length < this.targetFree) this.shrink(this.targetFree - got.length, got);
    // The harvest reaches the local list in the order it was taken (the head is the first taken).
    const local = this.localFree(cpu);
    for (let i = got.length - 1; i >= 0; i--) this.addHead(got[i]!, local);
  }

  /** The oldest pending element of a CPU not looked up (else the oldest), evicted; for stealing. */
  private popPending(cpu: number): number | undefined {
    const pending = this.pending(cpu);
    for (const force of [false, true]) {
      for (let n = this.prev[pending]!; n !== pending; n = this.prev[n]!) {
        if ((force || !this.refBit[n]) && this.evict(n)) {
          this.unlink(n);
          return n;
        }
      }
    }
    return undefined;
  }

  private popLocalFree(cpu: number): number | undefined {
    const local = this.localFree(cpu);
    const n = this.next[local]!;
    if (n === local) return undefined;
    this.unlink(n);
    return n;
  }

  /** bpf_common_lru_pop_free: the local free list, else a refill, else steal from the CPUs' local lists in turn. */
  take(cpu: number): number | undefined {
    let n = this.popLocalFree(cpu);
    if (n === undefined) {
      this.refill(cpu);
      n = this.popLocalFree(cpu);
    }
    if (n === undefined) {
      const first = this.nextSteal[cpu]!;
      let steal = first;
      do {
        n = this.popLocalFree(steal) ?? this.popPending(steal);
        steal = (steal + 1) % this.cpus;
      } while (n === undefined && steal !== first);
      this.nextSteal[cpu] = steal;
      if (n === undefined) return undefined;
    }
    this.refBit[n] = 0;
    this.addHead(n, this.pending(cpu));
    return n;
  }

  /** bpf_lru_push_free: a pending element goes back to the head of its CPU's local free list, others to the global free list. */
  give(slot: number): void {
    const cpu = this.pendingCpu(this.on[slot]!);
    if (cpu !== undefined) {
      this.refBit[slot] = 0;
      this.moveHead(slot, this.localFree(cpu));
    } else this.move(slot, this.FREE);
  }

  replace(old: number, cpu: number): number {
    const slot = this.take(cpu)!;
    this.give(old);
    return slot;
  }

  /** bpf_lru_node_set_ref: a program looked the element up (or updated its key). */
  ref(slot: number): void {
    this.refBit[slot] = 1;
  }
}
