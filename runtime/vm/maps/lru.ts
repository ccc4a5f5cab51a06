// The kernel's LRUs (kernel/bpf/bpf_lru_list.c), which decide which elements an LRU hash map evicts: the common LRU
// and, with BPF_F_NO_COMMON_LRU, one LRU list per CPU. Takes the map's size, the CPUs and a callback that removes an
// element's key from the map; gives the element pool the hash map allocates from, with `ref` for lookups.
//
// Common LRU: a CPU allocates from its local free list. When that is empty, the elements it allocated since its last
// refill (its pending list) move to the global active (looked up since) or inactive list, the lists rotate, and the
// local list is refilled with up to `targetFree` elements: free ones first, then ones shrunk off the inactive list.
// With none to be had it takes one from the CPUs' local free or pending lists in turn.

import type { ElemPool } from "./hash.js";
import { LruList, LruNodes } from "./lru-list.js";

/** LOCAL_FREE_TARGET: a refill's most elements, and LOCAL_NR_SCANS: the most elements one rotation or shrink visits. */
const LOCAL_FREE_TARGET = 128;
const LOCAL_NR_SCANS = LOCAL_FREE_TARGET;
/** The per-CPU LRU's PERCPU_FREE_TARGET and PERCPU_NR_SCANS. */
const PERCPU_FREE_TARGET = 4;
const PERCPU_NR_SCANS = PERCPU_FREE_TARGET;

/** What both LRUs share: the elements' lists and ref bits. */
abstract class LruPool implements ElemPool {
  constructor(readonly capacity: number, protected readonly nodes: LruNodes) {}
  abstract take(cpu: number): number | undefined;
  abstract give(slot: number): void;

  replace(old: number, cpu: number): number {
    const slot = this.take(cpu)!;
    this.give(old);
    return slot;
  }

  /** bpf_lru_node_set_ref: a program looked the element up (or updated its key). */
  ref(slot: number): void {
    this.nodes.ref[slot] = 1;
  }
}

export class CommonLru extends LruPool {
  private readonly targetFree: number;
  private readonly list: LruList;
  private readonly localFree: number[] = [];
  private readonly pending: number[] = [];
  /** The CPU whose pending list each element joined last. */
  private readonly cpuOf: Int32Array;
  private readonly nextSteal: number[] = [];

  /** `evict(slot)` removes the slot's key from the map (the kernel's del_from_htab); false if it holds none. */
  constructor(maxEntries: number, private readonly cpus: number, private readonly evict: (slot: number) => boolean) {
    super(maxEntries, new LruNodes(maxEntries, 3 + 2 * cpus));
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(Math.floor(maxEntries / cpus) / 2)));
    this.list = new LruList(this.nodes, LOCAL_NR_SCANS, evict);
    this.cpuOf = new Int32Array(maxEntries);
    for (let c = 0; c < cpus; c++) {
      this.localFree.push(this.nodes.newHead());
      this.pending.push(this.nodes.newHead());
      this.nextSteal.push(c);
    }
    // Slot 0 at the head: elements are handed out in slot order.
    for (let s = maxEntries - 1; s >= 0; s--) this.nodes.addHead(s, this.list.FREE);
  }

  /** bpf_lru_list_pop_free_to_local: flush the CPU's pending elements, rotate, and refill its (empty) local free list. */
  private refill(cpu: number): void {
    const { nodes, list } = this;
    const pending = this.pending[cpu]!;
    while (!nodes.empty(pending)) list.moveIn(nodes.prev[pending]!);
    list.rotate();
    const got: number[] = [];
    while (got.length < this.targetFree && !nodes.empty(list.FREE)) list.take(nodes.next[list.FREE]!, got);
    if (got.length < this.targetFree) list.shrink(this.targetFree - got.length, got);
    // The harvest reaches the local list in the order it was taken (the head is the first taken).
    for (let i = got.length - 1; i >= 0; i--) nodes.addHead(got[i]!, this.localFree[cpu]!);
  }

  /** The oldest pending element of a CPU not looked up (else the oldest), evicted; for stealing. */
  private popPending(cpu: number): number | undefined {
    const { nodes } = this;
    const pending = this.pending[cpu]!;
    for (const force of [false, true]) {
      for (let n = nodes.prev[pending]!; n !== pending; n = nodes.prev[n]!) {
        if ((force || !nodes.ref[n]) && this.evict(n)) {
          nodes.unlink(n);
          return n;
        }
      }
    }
    return undefined;
  }

  /** bpf_common_lru_pop_free: the local free list, else a refill, else steal from the CPUs' local lists in turn. */
  take(cpu: number): number | undefined {
    let n = this.nodes.popFirst(this.localFree[cpu]!);
    if (n === undefined) {
      this.refill(cpu);
      n = this.nodes.popFirst(this.localFree[cpu]!);
    }
    if (n === undefined) {
      const first = this.nextSteal[cpu]!;
      let steal = first;
      do {
        n = this.nodes.popFirst(this.localFree[steal]!) ?? this.popPending(steal);
        steal = (steal + 1) % this.cpus;
      } while (n === undefined && steal !== first);
      this.nextSteal[cpu] = steal;
      if (n === undefined) return undefined;
    }
    this.cpuOf[n] = cpu;
    this.nodes.ref[n] = 0;
    this.nodes.addHead(n, this.pending[cpu]!);
    return n;
  }

  /** bpf_lru_push_free: a pending element goes back to the head of its CPU's local free list, others to the global free list. */
  give(slot: number): void {
    const cpu = this.cpuOf[slot]!;
    if (this.nodes.on[slot] === this.pending[cpu]) {
      this.nodes.ref[slot] = 0;
      this.nodes.moveHead(slot, this.localFree[cpu]!);
    } else this.list.move(slot, this.list.FREE);
  }
}

/**
 * BPF_F_NO_COMMON_LRU: one LRU list per CPU, each given an equal share of the elements at creation (max_entries is a
 * multiple of the CPUs). A CPU allocates from its own list only, rotating it first and, with no free element, shrinking
 * it by PERCPU_FREE_TARGET; a new element joins the inactive list at once. A freed element goes back to its CPU's list.
 */
export class PerCpuLru extends LruPool {
  private readonly lists: LruList[] = [];
  /** The CPU whose list each element belongs to. */
  private readonly cpuOf: Int32Array;

  constructor(maxEntries: number, cpus: number, evict: (slot: number) => boolean) {
    super(maxEntries, new LruNodes(maxEntries, 3 * cpus));
    for (let c = 0; c < cpus; c++) this.lists.push(new LruList(this.nodes, PERCPU_NR_SCANS, evict));
    this.cpuOf = new Int32Array(maxEntries);
    const share = maxEntries / cpus;
    for (let s = 0; s < maxEntries; s++) {
      this.cpuOf[s] = Math.floor(s / share);
      this.nodes.addHead(s, this.lists[this.cpuOf[s]!]!.FREE);
    }
  }

  /** bpf_percpu_lru_pop_free. */
  take(cpu: number): number | undefined {
    const list = this.lists[cpu]!;
    list.rotate();
    if (this.nodes.empty(list.FREE)) {
      const got: number[] = [];
      list.shrink(PERCPU_FREE_TARGET, got);
      for (const n of got) this.nodes.addHead(n, list.FREE);
    }
    if (this.nodes.empty(list.FREE)) return undefined;
    const n = this.nodes.next[list.FREE]!;
    list.move(n, list.INACTIVE);
    return n;
  }

  /** bpf_percpu_lru_push_free: to the head of its CPU's free list. */
  give(slot: number): void {
    const list = this.lists[this.cpuOf[slot]!]!;
    list.move(slot, list.FREE);
  }
}
