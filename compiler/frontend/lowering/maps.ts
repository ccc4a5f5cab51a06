// Lowering map methods: lookups, updates, deletes, counters, histograms and the aggregates.

import type * as TS from "typescript";
import { ACTIONS, type Aggregate } from "../../btf/tags.js";
import { I64, PTR, U32, U64, promote, type Block, type CallArg, type IntType, type Layout, type Operand, type VReg } from "../../ir/index.js";
import { Helper } from "../../isa/helpers.js";
import { Code } from "../diagnostics.js";
import { BPF_F_CURRENT_CPU, MAP_TYPES, OUTPUT_IN_PLACE } from "./constants.js";
import { StringLowering } from "./strings.js";
import { imm } from "./types.js";
import type { MapInfo, Ref, Val } from "./values.js";

/** The most entries print(top) names: the top sits in the high 16 bits of the action's argument, the map's index below. */
const MAX_PRINT_TOP = 0xffffn;

export abstract class MapLowering extends StringLowering {
  /** Map methods that give an integer (or nothing). */
  mapCall(m: MapInfo, method: string, e: TS.CallExpression): Val {
    const map = { kind: "map" as const, name: m.def.name };
    const args = e.arguments;
    const result = (helper: number, callArgs: CallArg[]): Val => {
      const dst = this.fb.vreg(I64);
      this.fb.emit({ op: "call", helper, args: callArgs, dst, loc: this.locOf(e) });
      return { op: dst };
    };
    const none: Val = { op: imm(0n, I64) };
    if (method === "print" || method === "clear") {
      // print(top), bpftrace's print(@x, top): the top entries (or keys' histograms) alone, in the record's high half.
      let top = 0n;
      if (method === "print" && args.length === 1) {
        const given = this.value(args[0]!).op;
        if (given.kind !== "imm" || given.value < 0n || given.value > MAX_PRINT_TOP) this.fail(args[0]!, Code.OutOfRange, `print(top) takes a constant from 0 (every entry) to ${MAX_PRINT_TOP}: how many of the largest entries to print`);
        else top = given.value;
      } else if (args.length) this.fail(args[0]!, Code.BadMap, method === "print" ? "print() takes at most how many of the largest entries to print" : "clear() takes no arguments");
      if (!this.cx.actionTargets.includes(m.def.name)) this.cx.actionTargets.push(m.def.name);
      this.action(ACTIONS[method], { op: imm(BigInt(this.cx.actionTargets.indexOf(m.def.name)) | (top << 16n), U32) }, e);
      return none;
    }
    if (m.def.aggregate) {
      const adds = m.def.aggregate === "count" ? "increment" : "record";
      const keyed = m.def.type !== MAP_TYPES.PerCpuArrayMap;
      // bpftrace's delete(@x[k]): the key's value on every CPU, one per-CPU hash element.
      if (method === "delete" && keyed) {
        if (args.length !== 1) this.fail(e, Code.BadMap, "delete() takes a key");
        const key = this.materialize(args[0]!, m.key!, e);
        return result(Helper.map_delete_elem, [map, this.addrOf(key, e)]);
      }
      if (method !== adds) return this.fail(e.expression, Code.BadMap, `${m.cls} has the methods ${adds}(), ${keyed ? "delete(), " : ""}print() and clear()`);
      this.aggregate(m, m.def.aggregate, e);
      return none;
    }
    const keyed = !["RingBuf", "PerfEventArray", "StackTraceMap", "Histogram", "LinearHistogram"].includes(m.cls);
    switch (keyed ? method : `${m.cls}.${method}`) {
      case "update": {
        if (args.length < 2 || args.length > 3) this.fail(e, Code.BadMap, "update() takes a key, a value and optionally flags (ANY, NOEXIST, EXIST)");
        const key = this.materialize(args[0]!, m.key!, e);
        const value = this.materialize(args[1]!, m.value!, e);
        const flags = args[2] ? this.convert(this.value(args[2]), U64).op : imm(0n, U64);
        return result(Helper.map_update_elem, [map, this.addrOf(key, e), this.addrOf(value, e), flags]);
      }
      case "delete": {
        if (m.cls === "ArrayMap" || m.cls === "PerCpuArrayMap") this.fail(e, Code.BadMap, "array map elements cannot be deleted (update them to zero)");
        if (args.length !== 1) this.fail(e, Code.BadMap, "delete() takes a key");
        const key = this.materialize(args[0]!, m.key!, e);
        return result(Helper.map_delete_elem, [map, this.addrOf(key, e)]);
      }
      case "increment": {
        if (args.length < 1 || args.length > 2) this.fail(e, Code.BadMap, "increment() takes a key and optionally the amount");
        const l = m.value!;
        if (l.kind !== "int" || l.size < 4) return this.fail(e, Code.BadMap, "increment() needs a map whose values are 32- or 64-bit integers");
        const key = this.materialize(args[0]!, m.key!, e);
        const by = args[1] ? this.convert(this.value(args[1]), l.type).op : imm(1n, l.type);
        this.increment(map, key, l, by, m.cls === "ArrayMap" || m.cls === "PerCpuArrayMap", e);
        return none;
      }
      case "RingBuf.output": {
        if (args.length !== 1) this.fail(e, Code.BadMap, "output() takes the value to send");
        if (m.value!.size > OUTPUT_IN_PLACE && this.cx.isBuilt(args[0]!)) return this.outputInPlace(m, args[0]!, e);
        const v = this.materialize(args[0]!, m.value!, e);
        // The result is negative when the full ring dropped the record, which is counted (tsbpf run says it) and
        // given to the probe.
        const sent = result(Helper.ringbuf_output, [map, this.addrOf(v, e), imm(BigInt(m.value!.size), U64), imm(0n, U64)]);
        this.countFailed(m.def.name, sent.op as VReg, e);
        return sent;
      }
      case "RingBuf.submit":
      case "RingBuf.discard": {
        const r = args.length === 1 ? this.tryRef(args[0]!) : undefined;
        if (!r || r.base.kind !== "reg" || r.offset !== 0) return this.fail(e, Code.BadMap, `${method}() takes a record reserve() gave`);
        this.fb.emit({ op: "call", helper: method === "submit" ? Helper.ringbuf_submit : Helper.ringbuf_discard, args: [r.base, imm(0n, U64)], loc: this.locOf(e) });
        return none;
      }
      case "PerfEventArray.output": {
        if (args.length !== 1) this.fail(e, Code.BadMap, "output() takes the value to send");
        const v = this.materialize(args[0]!, m.value!, e);
        return result(Helper.perf_event_output, [this.fb.ctx, map, imm(BPF_F_CURRENT_CPU, U64), this.addrOf(v, e), imm(BigInt(m.value!.size), U64)]);
      }
      case "StackTraceMap.getStackId": {
        if (args.length > 1) this.fail(e, Code.BadMap, "getStackId() takes only flags (USER_STACK, ...)");
        const flags = args[0] ? this.convert(this.value(args[0]), U64).op : imm(0n, U64);
        return result(Helper.get_stackid, [this.fb.ctx, map, flags]);
      }
      case "LinearHistogram.record": {
        if (!m.histogramKey) {
          if (args.length !== 1) this.fail(e, Code.BadMap, "record() takes the value to count (`new LinearHistogram<K>(min, max, step, maxKeys)` keeps one histogram per key)");
          this.linearHistogram(map, m.def.linear!, this.value(args[0]!), e);
          return none;
        }
        if (args.length !== 2) this.fail(e, Code.BadMap, "record() of a keyed LinearHistogram takes the key and the value to count");
        const key = this.temp(m.key!, e);
        this.assignInto({ ...key, layout: m.histogramKey }, args[0]!);
        this.linearHistogram(map, m.def.linear!, this.value(args[1]!), e, key);
        return none;
      }
      case "Histogram.record": {
        if (!m.histogramKey) {
          if (args.length !== 1) this.fail(e, Code.BadMap, "record() takes the value to count (`new Histogram<K>(maxKeys)` keeps one histogram per key)");
          this.histogram(map, this.value(args[0]!), e);
          return none;
        }
        if (args.length !== 2) this.fail(e, Code.BadMap, "record() of a keyed Histogram takes the key and the value to count");
        const key = this.temp(m.key!, e);
        this.assignInto({ ...key, layout: m.histogramKey }, args[0]!);
        this.histogram(map, this.value(args[1]!), e, key);
        return none;
      }
    }
    return this.fail(e.expression, Code.BadMap, `${m.cls} has no method ${method}() the compiler supports`);
  }

  /** Lookup-or-insert, then an atomic add: `*lookup(key) += by`, inserting `by` when the key is new. */
  increment(map: { kind: "map"; name: string }, key: Ref | CallArg, l: Layout & { kind: "int" }, by: Operand, array: boolean, node: TS.Node): void {
    const keyAddr = "layout" in key ? this.addrOf(key, node) : key;
    const done = this.fb.newBlock();
    const add = (p: VReg): void => {
      this.fb.emit({ op: "atomic", ptr: p, offset: 0, size: l.size as 4 | 8, src: by, loc: this.locOf(node) });
      this.fb.terminate({ op: "jmp", target: done.id });
    };
    const lookup = (): [VReg, Block, Block] => {
      const p = this.fb.vreg(PTR);
      this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, keyAddr], dst: p, loc: this.locOf(node) });
      const found = this.fb.newBlock();
      const missing = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: p, b: imm(0n, PTR), then: found.id, else: missing.id });
      return [p, found, missing];
    };
    const [p, found, missing] = lookup();
    this.enter(found);
    add(p);
    this.enter(missing);
    if (array) {
      this.fb.terminate({ op: "jmp", target: done.id });
    } else {
      // Insert `by` if no other CPU did meanwhile; if one did (the update fails), add to its element.
      const init = this.temp(l, node);
      this.fb.emit({ op: "st", base: init.base, offset: 0, size: l.size, src: by, loc: this.locOf(node) });
      const r = this.fb.vreg(I64);
      this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [map, keyAddr, this.addrOf(init, node), imm(1n, U64)], dst: r, loc: this.locOf(node) });
      const retry = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: r, b: imm(0n, I64), then: done.id, else: retry.id });
      this.enter(retry);
      const [p2, found2, missing2] = lookup();
      this.enter(found2);
      add(p2);
      this.enter(missing2);
      this.fb.terminate({ op: "jmp", target: done.id });
    }
    this.enter(done);
  }

  /**
   * Count.increment([key]) and Sum/Avg/Min/Max/Stats.record([key,] v): this CPU's value under the key (a new key
   * inserted zeroed, then looked up again) updated in place without atomics, as bpftrace updates them: only this
   * CPU ever touches it.
   */
  aggregate(m: MapInfo, kind: Aggregate, e: TS.CallExpression): void {
    const args = e.arguments;
    const keyed = m.def.type !== MAP_TYPES.PerCpuArrayMap;
    const valued = kind !== "count";
    if (args.length !== (keyed ? 1 : 0) + (valued ? 1 : 0)) {
      if (!valued) this.fail(e, Code.BadMap, keyed ? `increment() of a keyed Count takes the key` : `increment() of a Count without a key type takes nothing (\`new Count<K>(maxKeys)\` keeps one per key)`);
      this.fail(e, Code.BadMap, keyed ? `record() of a keyed ${m.cls} takes the key and the value` : `record() takes the value (\`new ${m.cls}<K>(maxKeys)\` keeps one per key)`);
    }
    const loc = this.locOf(e);
    const map = { kind: "map" as const, name: m.def.name };
    const keyAddr = this.addrOf(keyed ? this.materialize(args[0]!, m.key!, e) : this.temp(m.key!, e), e);
    let x: Operand = imm(0n, I64);
    if (valued) {
      const arg = args[args.length - 1]!;
      const v = this.value(arg);
      if (v.op.type.ptr) this.fail(arg, Code.NotAnInteger, `${m.cls} records integers, not pointers`);
      x = this.convert(v, I64).op;
    }
    const p = this.fb.vreg(PTR);
    const found = this.fb.newBlock();
    const done = this.fb.newBlock();
    const lookup = (missing: Block): void => {
      this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, keyAddr], dst: p, loc });
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: p, b: imm(0n, PTR), then: found.id, else: missing.id });
    };
    const missing = keyed ? this.fb.newBlock() : done;
    lookup(missing);
    if (keyed) {
      this.enter(missing);
      // BPF_NOEXIST: whichever CPU inserts first wins, and its values are the others' zeroes. A full map leaves no value.
      const initial = this.temp(m.value!, e);
      this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [map, keyAddr, this.addrOf(initial, e), imm(1n, U64)], loc });
      lookup(done);
    }
    this.enter(found);
    const field = (offset: number, type: IntType): VReg => {
      const dst = this.fb.vreg(type);
      this.fb.emit({ op: "load", dst, base: p, offset, size: 8, signed: type.signed, loc });
      return dst;
    };
    const store = (offset: number, src: Operand): void => this.fb.emit({ op: "st", base: p, offset, size: 8, src, loc });
    if (kind !== "min" && kind !== "max") {
      const count = field(0, U64);
      this.fb.emit({ op: "bin", kind: "add", dst: count, a: count, b: imm(1n, U64), loc });
      store(0, count);
      // A count's total would only repeat its count.
      if (kind !== "count") {
        const total = field(8, I64);
        this.fb.emit({ op: "bin", kind: "add", dst: total, a: total, b: x, loc });
        store(8, total);
      }
      this.fb.terminate({ op: "jmp", target: done.id });
    } else {
      // The first value this CPU sees, or one beyond its extremum, becomes the extremum.
      const replace = this.fb.newBlock();
      const compare = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: field(8, U64), b: imm(0n, U64), then: replace.id, else: compare.id, loc });
      this.enter(compare);
      this.fb.terminate({ op: "br", cmp: kind === "min" ? "lt" : "gt", signed: true, a: x, b: field(0, I64), then: replace.id, else: done.id, loc });
      this.enter(replace);
      store(0, x);
      store(8, imm(1n, U64));
      this.fb.terminate({ op: "jmp", target: done.id });
    }
    this.enter(done);
  }

  /** lhist.record(v): slot 0 below min, 1 + (v - min) / step up to max, the last slot from max up; then an add of 1. */
  /** lhist.record(v): the slot of v (0 below min, then one per step, the last from max up), counted as histogram() counts. */
  linearHistogram(map: { kind: "map"; name: string }, linear: { min: bigint; max: bigint; step: bigint }, v: Val, node: TS.Node, keyed?: Ref): void {
    const loc = this.locOf(node);
    const type = v.untyped ? I64 : promote(v.op.type).bits === 64 ? promote(v.op.type) : I64;
    const x = this.convert(v, type).op;
    const last = (linear.max - linear.min + linear.step - 1n) / linear.step + 1n;
    const slot = this.fb.vreg(U64);
    const found = this.fb.newBlock();
    const below = this.fb.newBlock();
    const notBelow = this.fb.newBlock();
    const above = this.fb.newBlock();
    const inside = this.fb.newBlock();
    // A u64 below a negative min cannot be: compare it as signed only when min is negative.
    const signed = type.signed || linear.min < 0n;
    this.fb.terminate({ op: "br", cmp: "lt", signed, a: x, b: imm(linear.min, type), then: below.id, else: notBelow.id, loc });
    this.enter(below);
    this.fb.emit({ op: "mov", dst: slot, src: imm(0n, U64), loc });
    this.fb.terminate({ op: "jmp", target: found.id });
    this.enter(notBelow);
    this.fb.terminate({ op: "br", cmp: "ge", signed, a: x, b: imm(linear.max, type), then: above.id, else: inside.id, loc });
    this.enter(above);
    this.fb.emit({ op: "mov", dst: slot, src: imm(last, U64), loc });
    this.fb.terminate({ op: "jmp", target: found.id });
    this.enter(inside);
    // min <= x < max: the offset from min is non-negative, so an unsigned division.
    const offset = this.fb.vreg(U64);
    this.fb.emit({ op: "bin", kind: "sub", dst: offset, a: x, b: imm(BigInt.asUintN(64, linear.min), U64), loc });
    this.fb.emit({ op: "bin", kind: "div", dst: offset, a: offset, b: imm(linear.step, U64), loc });
    this.fb.emit({ op: "bin", kind: "add", dst: slot, a: offset, b: imm(1n, U64), loc });
    this.fb.terminate({ op: "jmp", target: found.id });
    this.enter(found);
    this.countSlot(map, slot, node, keyed);
  }

  /**
   * hist.record(v): slot 0 for 0, k for [2^(k-1), 2^k), 65 for negative values; then an atomic add of 1 to the
   * slot's entry, or to the entry of `keyed` (a keyed Histogram's `{ key, slot }`, its key already written).
   */
  histogram(map: { kind: "map"; name: string }, v: Val, node: TS.Node, keyed?: Ref): void {
    const loc = this.locOf(node);
    const slot = this.fb.vreg(U64);
    const x = this.fb.vreg(U64);
    const found = this.fb.newBlock();
    if (v.op.kind === "imm") {
      const n = BigInt.asIntN(64, v.op.value);
      const value = n < 0n && (v.untyped || v.op.type.signed) ? 65n : BigInt(BigInt.asUintN(64, v.op.value).toString(2).length) - (v.op.value === 0n ? 1n : 0n);
      this.fb.emit({ op: "mov", dst: slot, src: imm(value, U64), loc });
      this.fb.terminate({ op: "jmp", target: found.id });
    } else {
      const positive = this.fb.newBlock();
      if (v.op.type.signed) {
        const negative = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "lt", signed: true, a: v.op, b: imm(0n, v.op.type), then: negative.id, else: positive.id, loc });
        this.enter(negative);
        this.fb.emit({ op: "mov", dst: slot, src: imm(65n, U64), loc });
        this.fb.terminate({ op: "jmp", target: found.id });
      } else this.fb.terminate({ op: "jmp", target: positive.id });
      this.enter(positive);
      this.fb.emit({ op: "mov", dst: x, src: this.convert(v, U64).op, loc });
      this.fb.emit({ op: "mov", dst: slot, src: imm(0n, U64), loc });
      const search = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: x, b: imm(0n, U64), then: found.id, else: search.id, loc });
      this.enter(search);
      // Binary search for the highest set bit: slot = floor(log2 x) + 1.
      this.fb.emit({ op: "mov", dst: slot, src: imm(1n, U64), loc });
      for (const shift of [32n, 16n, 8n, 4n, 2n, 1n]) {
        const big = this.fb.newBlock();
        const next = this.fb.newBlock();
        this.fb.terminate({ op: "br", cmp: "ge", signed: false, a: x, b: imm(1n << shift, U64), then: big.id, else: next.id, loc });
        this.enter(big);
        this.fb.emit({ op: "bin", kind: "add", dst: slot, a: slot, b: imm(shift, U64), loc });
        this.fb.emit({ op: "bin", kind: "shr", dst: x, a: x, b: imm(shift, U32), loc });
        this.fb.terminate({ op: "jmp", target: next.id });
        this.enter(next);
      }
      this.fb.terminate({ op: "jmp", target: found.id });
    }
    this.enter(found);
    this.countSlot(map, slot, node, keyed);
  }

  /** Adds 1 to `slot`'s count: an array map's entry, or a keyed histogram's `{ key, slot }` (its key already written). */
  countSlot(map: { kind: "map"; name: string }, slot: VReg, node: TS.Node, keyed?: Ref): void {
    const key = keyed ? { ...keyed, layout: this.cx.intLayout(U32), offset: keyed.offset + (keyed.layout as Layout & { kind: "struct" }).fields[1]!.offset } : this.temp(this.cx.intLayout(U32), node);
    this.fb.emit({ op: "st", base: key.base, offset: key.offset, size: 4, src: slot, loc: this.locOf(node) });
    this.increment(map, keyed ?? key, this.cx.intLayout(U64) as Layout & { kind: "int" }, imm(1n, U64), !keyed, node);
  }
}
