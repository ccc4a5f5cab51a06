// Lowering calls: tsbpf's helpers, stacks, signals, probe names and module-level functions' results.

import type * as TS from "typescript";
import { PROBE_ID_SHIFT, PROBE_TAG } from "../../btf/tags.js";
import { BOOL, I64, INT_TYPES, KERNEL_STACK, KERNEL_SYMBOL, MAX_STACK_FRAMES, PROBE_NAME, PTR, U16, U32, U64, U8, USER_STACK, stackType, typeName, type Block, type Layout, type Operand, type VReg } from "../../ir/index.js";
import { Helper } from "../../isa/helpers.js";
import { Code } from "../diagnostics.js";
import { PROBES } from "../prelude.js";
import { signalNumber } from "../signals.js";
import { BPF_ANY, BPF_F_USER_BUILD_ID, BPF_F_USER_STACK, BPF_NOEXIST, EEXIST, EFAULT, ENOENT, HELPER_CALLS, STACK_ID_COUNTER, STACK_SCRATCH, stackFramesMap, stackMap, stackScratch } from "./constants.js";
import { KernelReadLowering } from "./kernel-reads.js";
import { aLayout, imm } from "./types.js";
import type { Val } from "./values.js";

export abstract class CallLowering extends KernelReadLowering {
  call(e: TS.CallExpression): Val {
    if (this.ts.isPropertyAccessExpression(e.expression) && this.cx.isString(e.expression.expression)) return this.stringMethod(e, e.expression);
    const name = this.cx.builtin(e.expression);
    if (name && INT_TYPES[name]) {
      // u32(x) converts like `x as u32`; it is also how a bigint literal becomes a number-typed constant.
      if (e.arguments.length !== 1) this.fail(e, Code.Unsupported, `${name}() converts one value`);
      return this.cast(this.value(e.arguments[0]!), INT_TYPES[name]!, e);
    }
    if (this.ts.isPropertyAccessExpression(e.expression)) {
      const m = this.mapOf(e.expression.expression);
      if (m) {
        const method = e.expression.name.text;
        if (method === "lookup" || method === "reserve") {
          const r = this.mapRefCall(m, method, e);
          return r.layout.kind === "int" ? this.fail(e, Code.Unsupported, `test the result of ${method}() for null before reading it (\`const v = m.${method}(...); if (v !== null) ...\`), or write \`m.lookup(k) ?? 0\``) : this.fail(e, Code.NotAnInteger, `${method}() gives ${aLayout(r.layout)}: bind it to a name and test it for null`);
        }
        return this.mapCall(m, method, e);
      }
    }
    if (this.ts.isIdentifier(e.expression)) {
      const symbol = this.checker.getSymbolAtLocation(e.expression);
      const fn = symbol && this.cx.functions.get(symbol);
      if (fn) return this.inlineCall(fn, e);
    }
    const helper = name ? HELPER_CALLS[name] : undefined;
    if (name === "printk" || name === "printf" || name === "join") return this.fail(e, Code.Unsupported, `${name}() returns nothing: call it as a statement`);
    if (name === "readUser" || name === "readKernel") {
      const into = this.memoryRead(e)!;
      if (into.layout.kind !== "int") return this.fail(e, Code.NotAnInteger, `${name}<${e.typeArguments![0]!.getText(this.file)}>() gives ${aLayout(into.layout)}: bind it to a name or assign it to a field`);
      return this.loadInt(into, e);
    }
    if (name === "readUserStr" || name === "readKernelStr") return this.fail(e, Code.UnsupportedCall, `${name}() fills a Str<N>: assign it to one (\`const s: Str<64> = ${name}(p)\`, or a struct field), or print it (\`\${${name}(p)}\` in printk)`);
    if (name === "comm") return this.fail(e, Code.UnsupportedCall, "comm() gives a Str<16>, not an integer: bind it (`const c = comm()`), compare it (`comm() === \"bash\"`) or print it (`${comm()}`)");
    if (name === "kstack" || name === "ustack") return this.stack(name, e);
    if (name === "probe") return this.probeName(e);
    if (name === "signal") return this.signal(e);
    if (name === "ksym") {
      if (e.arguments.length !== 1) this.fail(e, Code.UnsupportedCall, "ksym() takes one kernel address");
      const dst = this.fb.vreg(KERNEL_SYMBOL);
      this.fb.emit({ op: "mov", dst, src: this.convert(this.value(e.arguments[0]!), U64).op });
      return { op: dst };
    }
    if (name === "usym") return this.fail(e, Code.UnsupportedCall, "usym() gives a UserSymbol (an address and its process), not an integer: count by it (`calls.increment(usym(fn))` in a map keyed by UserSymbol), keep it in a struct field, or print it with printf's %s");
    if (name === "buf" || name === "kbuf") return this.fail(e, Code.UnsupportedCall, `${name}() gives a Buf<N> (bytes and their count), not an integer: count by it (\`calls.increment(${name}(p, 16))\` in a map keyed by Buf<16>), keep it in a struct field, or print it with printf's %r`);
    if (name === "exit") return this.exitRun(e);
    if (name === "time") return this.time(e);
    if (name === "strftime") return this.fail(e, Code.UnsupportedCall, "strftime() gives a Strftime (a time tsbpf run writes in the format), not an integer: print it with printf's %s, count by it (`seen.increment(strftime(\"%H:%M\", ktimeBootNs()))` in a map keyed by Strftime<\"%H:%M\">) or keep it in a struct field; ktimeBootNs() gives the nanoseconds");
    if (name === "macaddr") return this.fail(e, Code.UnsupportedCall, "macaddr() gives a MacAddr (a MAC address's 6 bytes), not an integer: count by it (`seen.increment(macaddr(addr))` in a map keyed by MacAddr), keep it in a struct field, or print it with printf's %s");
    if (name === "ntop") return this.fail(e, Code.UnsupportedCall, "ntop() gives an IpAddr (an IPv4 or IPv6 address), not an integer: count by it (`peers.increment(ntop(addr))` in a map keyed by IpAddr), keep it in a struct field, or print it with printf's %s");
    if (name === "bswap") return this.bswap(e);
    // bpftrace's results: strncmp() 0 when the strings match (1 when not), strcontains() 1 when found.
    if (name === "strncmp") return this.zeroOrOne(U64, (t, f) => this.strncmp(e, f, t));
    if (name === "strcontains") return this.zeroOrOne(BOOL, (t, f) => this.includes(e, e.arguments[0], e.arguments.slice(1), t, f));
    if (name === "pton") return this.fail(e, Code.NotAnInteger, 'pton() gives an address\'s bytes (an Arr<u8, 4> or Arr<u8, 16>), not an integer: index it (`pton("10.0.0.1")[0]`), bind it (`const lo = pton("127.0.0.1")`) or give it to ntop()');
    if (name === "kaddr") return this.kaddr(e);
    if (name === "uaddr") return this.uaddr(e);
    if (name === "cgroupId" && e.arguments.length) return this.cgroupPathId(e);
    if (name === "targetPid") {
      if (e.arguments.length) this.fail(e.arguments[0]!, Code.UnsupportedCall, "targetPid() takes no arguments");
      // A load from .rodata: the loader writes the pid there before loading, so to the verifier it is a constant.
      const address = this.fb.vreg(PTR);
      this.fb.emit({ op: "rodata", dst: address, offset: this.cx.rodata.targetPid(), loc: this.locOf(e) });
      const dst = this.fb.vreg(U32);
      this.fb.emit({ op: "load", dst, base: address, offset: 0, size: 4, signed: false, loc: this.locOf(e) });
      return { op: dst };
    }
    if (!helper) {
      return this.fail(e, Code.UnsupportedCall, name && (PROBES as readonly string[]).includes(name)
        ? `${name}() declares a probe: it belongs at module level (\`export const x = ${name}(...)\`)`
        : `only tsbpf helpers can be called in a probe handler, not \`${e.expression.getText(this.file)}\``);
    }
    if (e.arguments.length) this.fail(e.arguments[0]!, Code.UnsupportedCall, `${name}() takes no arguments`);
    const dst = this.fb.vreg(helper!.type);
    this.fb.emit({ op: "call", helper: helper!.id, args: [], dst, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * bswap(x), bpftrace's bswap(): x's bytes in reverse order at its width, an unsigned integer of that width (8 bits
   * as they are; a literal is 64 bits wide, as bpftrace's are). A constant is swapped here.
   */
  bswap(e: TS.CallExpression): Val {
    const [arg] = e.arguments;
    if (!arg || e.arguments.length > 1) return this.fail(e, Code.UnsupportedCall, "bswap() takes one integer, whose bytes it reverses at its width: bswap(u16(x)), bswap(ctx.port)");
    const v = this.value(arg);
    const t = v.op.type;
    if (t.ptr || t.bool || t.stack || t.probe || t.ksym) return this.fail(arg, Code.NotAnInteger, `bswap() reverses an integer's bytes, not those of ${typeName(t)}: convert it first (\`bswap(u64(p))\`)`);
    const bits = v.untyped ? 64 : t.bits;
    const type = bits === 8 ? U8 : bits === 16 ? U16 : bits === 32 ? U32 : U64;
    const a = this.convert(v, type);
    if (bits === 8) return a;
    if (a.op.kind === "imm") {
      const bytes = Array.from({ length: bits / 8 }, (_, i) => (a.op.kind === "imm" ? (a.op.value >> BigInt(8 * i)) & 0xffn : 0n));
      return { op: imm(bytes.reduce((out, b) => (out << 8n) | b, 0n), type) };
    }
    const dst = this.fb.vreg(type);
    this.fb.emit({ op: "bswap", dst, a: a.op, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * kaddr("symbol"), bpftrace's kaddr(): the symbol's address in the running kernel, a `.rodata` u64 the loader writes
   * from /proc/kallsyms before loading (a symbol it lacks fails the load, naming it), so the verifier sees a constant.
   */
  kaddr(e: TS.CallExpression): Val {
    const [arg] = e.arguments;
    const symbol = arg && e.arguments.length === 1 ? this.formatText(arg) : undefined;
    if (symbol === undefined) return this.fail(arg ?? e, Code.UnsupportedCall, 'kaddr() takes a kernel symbol\'s name, a string literal (or a module-level string constant): kaddr("jiffies")');
    // The name becomes part of a BTF variable's, which the kernel takes as a C identifier.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(symbol)) this.fail(arg!, Code.UnsupportedCall, `kaddr() takes a symbol's name as /proc/kallsyms lists it, a C identifier, not ${JSON.stringify(symbol)}`);
    const address = this.fb.vreg(PTR);
    this.fb.emit({ op: "rodata", dst: address, offset: this.cx.rodata.kaddr(symbol), loc: this.locOf(e) });
    const dst = this.fb.vreg(U64);
    this.fb.emit({ op: "load", dst, base: address, offset: 0, size: 8, signed: false, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * cgroupId("/sys/fs/cgroup/PATH"), bpftrace's cgroupid(): the id of that cgroup v2 directory, a `.rodata` u64 the
   * loader writes (its inode number) before loading, the path beside it, so the verifier sees a constant.
   */
  cgroupPathId(e: TS.CallExpression): Val {
    const [arg] = e.arguments;
    const path = arg && e.arguments.length === 1 ? this.formatText(arg) : undefined;
    if (path === undefined || !path.startsWith("/") || path.includes("\0")) {
      return this.fail(arg ?? e, Code.UnsupportedCall, 'cgroupId() takes nothing (the current task\'s cgroup) or a cgroup v2 directory\'s absolute path, a string literal (or a module-level string constant): cgroupId("/sys/fs/cgroup/system.slice")');
    }
    const address = this.fb.vreg(PTR);
    this.fb.emit({ op: "rodata", dst: address, offset: this.cx.rodata.cgroupPath(path), loc: this.locOf(e) });
    const dst = this.fb.vreg(U64);
    this.fb.emit({ op: "load", dst, base: address, offset: 0, size: 8, signed: false, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * uaddr(binary, "symbol"), bpftrace's uaddr(): the symbol's address in a position-dependent executable, a `.rodata`
   * u64 the loader writes from the file's symbol tables before loading (the names beside it, for the loader).
   */
  uaddr(e: TS.CallExpression): Val {
    const [binary, symbol] = e.arguments.map((a) => this.formatText(a));
    if (e.arguments.length !== 2 || binary === undefined || symbol === undefined) return this.fail(e, Code.UnsupportedCall, 'uaddr() takes a binary and a symbol\'s name, string literals (or module-level string constants): uaddr("/usr/local/bin/app", "counter")');
    if (!binary || !symbol || binary.includes("\0") || symbol.includes("\0")) this.fail(e, Code.UnsupportedCall, "uaddr()'s binary and symbol are names, not empty and without NUL characters");
    const address = this.fb.vreg(PTR);
    this.fb.emit({ op: "rodata", dst: address, offset: this.cx.rodata.uaddr(binary, symbol), loc: this.locOf(e) });
    const dst = this.fb.vreg(U64);
    this.fb.emit({ op: "load", dst, base: address, offset: 0, size: 8, signed: false, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * kstack(): the kernel stack's id in the file's stack map for its frame limit. ustack(): the same for the user
   * stack, with the tgid in the high half, since naming user frames takes the process's memory map (a failed id keeps
   * its errno in the low half).
   */
  stack(name: "kstack" | "ustack", e: TS.CallExpression): Val {
    if (e.arguments.length > 1) this.fail(e.arguments[1]!, Code.UnsupportedCall, `${name}() takes at most a frame limit`);
    const frames = e.arguments[0] ? this.cx.stackFrames(e.arguments[0], `${name}(frames)`) : (this.inferredFrames(e) ?? MAX_STACK_FRAMES);
    const user = name === "ustack";
    const id = this.fb.vreg(user ? I64 : stackType(KERNEL_STACK, frames));
    this.stackId(user, frames, id, e);
    if (!user) return { op: id };
    const pidTgid = this.fb.vreg(U64);
    this.fb.emit({ op: "call", helper: Helper.get_current_pid_tgid, args: [], dst: pidTgid, loc: this.locOf(e) });
    const tgid = this.binary("and", { op: pidTgid }, { op: imm(0xffff_ffff_0000_0000n, U64) }, e);
    const both = this.binary("or", tgid, this.convert({ op: id }, U32), e);
    const dst = this.fb.vreg(stackType(USER_STACK, frames));
    this.fb.emit({ op: "mov", dst, src: both.op });
    return { op: dst };
  }

  /**
   * `id` = the current stack's id in its stack map (stackMap): bpf_get_stack() into the per-CPU scratch buffer, then
   * the id the map holds under those frames, or for frames it does not hold the next id of the file's counter, inserted
   * with BPF_NOEXIST once its frames are under it in the id -> frames map (stackFramesMap); where another CPU inserted
   * the same frames first, its id (and the unused id's frames are deleted). A negative errno where bpf_get_stack()
   * or the insert fails (the map is full: -E2BIG), -EFAULT where there is no frame.
   */
  private stackId(user: boolean, frames: number, id: VReg, e: TS.CallExpression): void {
    const stacks = stackMap(user, frames);
    const key = stacks.key as Layout;
    const framesMap = stackFramesMap(user, frames);
    if (!this.cx.maps.some((m) => m.name === stacks.name)) this.cx.maps.push(stacks, framesMap);
    const at = this.cx.maps.findIndex((m) => m.name === STACK_SCRATCH);
    if (at < 0) this.cx.maps.push(stackScratch(key.size));
    else if ((this.cx.maps[at]!.value as number) < key.size) this.cx.maps[at] = stackScratch(key.size);
    let counter = this.cx.bss.find((v) => v.name === STACK_ID_COUNTER);
    if (!counter) this.cx.bss.push((counter = { name: STACK_ID_COUNTER, offset: this.cx.bss.length * 8 }));
    const loc = this.locOf(e);
    const map = { kind: "map" as const, name: stacks.name };
    const done = this.fb.newBlock();
    const set = (v: Operand): void => {
      this.fb.emit({ op: "mov", dst: id, src: v, loc });
      this.fb.terminate({ op: "jmp", target: done.id });
    };
    /** Branches on a lookup of the frames: the id found, or on to `missing`. */
    const lookup = (buf: VReg, missing: Block): void => {
      const p = this.fb.vreg(PTR);
      this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [map, buf], dst: p, loc });
      const found = this.fb.newBlock();
      this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: p, b: imm(0n, PTR), then: found.id, else: missing.id });
      this.enter(found);
      const known = this.fb.vreg(U32);
      this.fb.emit({ op: "load", dst: known, base: p, offset: 0, size: 4, signed: false, loc });
      set(known);
    };
    // The scratch buffer (its lookup cannot fail: the array has its one entry).
    const zero = this.temp(this.cx.intLayout(U32), e);
    this.fb.emit({ op: "st", base: zero.base, offset: zero.offset, size: 4, src: imm(0n, U32), loc });
    const buf = this.fb.vreg(PTR);
    this.fb.emit({ op: "call", helper: Helper.map_lookup_elem, args: [{ kind: "map", name: STACK_SCRATCH }, this.addrOf(zero, e)], dst: buf, loc });
    const have = this.fb.newBlock();
    const none = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "ne", signed: false, a: buf, b: imm(0n, PTR), then: have.id, else: none.id });
    this.enter(none);
    set(imm(-ENOENT, I64));
    this.enter(have);
    // The frames, the rest of the buffer zeroed (by the kernel): equal stacks are equal keys.
    const length = this.fb.vreg(I64);
    this.fb.emit({ op: "call", helper: Helper.get_stack, args: [this.fb.ctx, buf, imm(BigInt(key.size), U32), imm(user ? BPF_F_USER_STACK | BPF_F_USER_BUILD_ID : 0n, U64)], dst: length, loc });
    const taken = this.fb.newBlock();
    const failed = this.fb.newBlock();
    const empty = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "lt", signed: true, a: length, b: imm(0n, I64), then: failed.id, else: empty.id });
    this.enter(failed);
    set(length);
    // No frame at all is no stack, as bpf_get_stackid() has it (-EFAULT).
    this.enter(empty);
    const nothing = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: length, b: imm(0n, I64), then: nothing.id, else: taken.id });
    this.enter(nothing);
    set(imm(-EFAULT, I64));
    this.enter(taken);
    const fresh = this.fb.newBlock();
    lookup(buf, fresh);
    // A stack not seen before: the next id, inserted unless another CPU has inserted these frames meanwhile.
    this.enter(fresh);
    const counterAt = this.fb.vreg(PTR);
    this.fb.emit({ op: "bss", dst: counterAt, offset: counter.offset, loc });
    const before = this.fb.vreg(U64);
    this.fb.emit({ op: "atomic", ptr: counterAt, offset: 0, size: 8, src: imm(1n, U64), dst: before, loc });
    const next = this.fb.vreg(U32);
    this.fb.emit({ op: "bin", kind: "add", dst: next, a: before, b: imm(1n, U32), loc });
    const value = this.temp(this.cx.intLayout(U32), e);
    this.fb.emit({ op: "st", base: value.base, offset: value.offset, size: 4, src: next, loc });
    // Its frames under its id first, so that whoever finds the id by the frames (another CPU, then a reader of what it
    // sent) finds the frames by the id; where this fails (that map is full) the id stands, naming no frames.
    const framesOf = { kind: "map" as const, name: framesMap.name };
    this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [framesOf, this.addrOf(value, e), buf, imm(BPF_ANY, U64)], loc });
    const stored = this.fb.vreg(I64);
    this.fb.emit({ op: "call", helper: Helper.map_update_elem, args: [map, buf, this.addrOf(value, e), imm(BPF_NOEXIST, U64)], dst: stored, loc });
    const inserted = this.fb.newBlock();
    const refused = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: stored, b: imm(0n, I64), then: inserted.id, else: refused.id });
    this.enter(inserted);
    set(next);
    // The id goes unused: its frames leave the id -> frames map.
    this.enter(refused);
    this.fb.emit({ op: "call", helper: Helper.map_delete_elem, args: [framesOf, this.addrOf(value, e)], loc });
    const raced = this.fb.newBlock();
    const error = this.fb.newBlock();
    this.fb.terminate({ op: "br", cmp: "eq", signed: false, a: stored, b: imm(-EEXIST, I64), then: raced.id, else: error.id });
    this.enter(raced);
    lookup(buf, error);
    this.enter(error);
    set(stored);
    this.enter(done);
  }

  /**
   * The frame limit TypeScript gave a kstack() or ustack() written without one, from where its value goes: `kstack()`
   * counted in a `Count<KernelStack<3>>` is a KernelStack<3>, whose ids must come from the 3-frame stack map that map's
   * keys are printed from. Undefined where it is the default (127) or not a literal.
   */
  private inferredFrames(e: TS.CallExpression): number | undefined {
    const frames = this.checker.getTypeAtLocation(e).getProperty("__tsbpfFrames");
    if (!frames) return undefined;
    const type = this.checker.getTypeOfSymbolAtLocation(frames, e);
    const literal = (type.isUnion() ? type.types : [type]).find((t) => t.isNumberLiteral());
    const n = literal?.isNumberLiteral() ? literal.value : undefined;
    return n !== undefined && Number.isInteger(n) && n >= 1 && n < MAX_STACK_FRAMES ? n : undefined;
  }

  /**
   * signal(sig, thread?), bpftrace's signal(): bpf_send_signal() to the current task's process, or
   * bpf_send_signal_thread() to the task alone (a literal `true`); a name (`"SIGUSR1"`, `"USR1"`) is its number.
   */
  signal(e: TS.CallExpression): Val {
    const [given, thread] = e.arguments;
    // TypeScript checks a name against the signals' unless cast: the name is looked at through the cast.
    let sig = given;
    while (sig && (this.ts.isAsExpression(sig) || this.ts.isParenthesizedExpression(sig))) sig = sig.expression;
    if (!sig || e.arguments.length > 2) return this.fail(e, Code.UnsupportedCall, 'signal() takes a signal, by number or name ("SIGKILL"), and whether to signal the thread alone');
    if (this.runsOnce) this.fail(e, Code.UnsupportedCall, `signal() signals the task a probe interrupted, and a ${this.runsOnce}() handler runs in tsbpf run itself: it would signal tsbpf`);
    if (thread && thread.kind !== this.ts.SyntaxKind.TrueKeyword && thread.kind !== this.ts.SyntaxKind.FalseKeyword) this.fail(thread, Code.UnsupportedCall, "signal()'s second argument is a literal true (the thread alone) or false (its process)");
    let number: Val;
    if (this.ts.isStringLiteral(sig) || this.ts.isNoSubstitutionTemplateLiteral(sig)) {
      const n = signalNumber(sig.text);
      if (n === undefined) return this.fail(sig, Code.UnsupportedCall, `${sig.text} is not a signal's name (SIGKILL or KILL, SIGUSR1 or USR1, ...)`);
      number = { op: imm(BigInt(n), U32) };
    } else {
      const given = this.value(sig);
      // The helper refuses what valid_signal() does (EINVAL), and says so only in its result, at run time.
      if (given.op.kind === "imm" && (given.op.value < 0n || given.op.value > 64n)) this.fail(sig, Code.OutOfRange, `signal(${given.op.value}): Linux's signals are 1 to 64 (0 sends none), or give a name ("SIGUSR1")`);
      number = this.convert(given, U32);
    }
    const toThread = thread?.kind === this.ts.SyntaxKind.TrueKeyword;
    const dst = this.fb.vreg(I64);
    this.fb.emit({ op: "call", helper: toThread ? Helper.send_signal_thread : Helper.send_signal, args: [number.op], dst, loc: this.locOf(e) });
    return { op: dst };
  }

  /**
   * probe(): the id of the place the program was attached at, which the loader puts in the attach cookie's high half
   * for a program tagged tsbpf:probe (the low half is a USDT site's argument spec id).
   */
  probeName(e: TS.CallExpression): Val {
    if (e.arguments.length) this.fail(e.arguments[0]!, Code.UnsupportedCall, "probe() takes no arguments");
    if (this.runsOnce) this.fail(e, Code.UnsupportedCall, `probe() names the probe that fired, and no probe fires a ${this.runsOnce}() handler: it runs once, by tsbpf run`);
    this.fb.bodyTags.add(PROBE_TAG);
    const cookie = this.fb.vreg(U64);
    this.fb.emit({ op: "call", helper: Helper.get_attach_cookie, args: [this.fb.ctx], dst: cookie, loc: this.locOf(e) });
    const id = this.binary("shr", { op: cookie }, { op: imm(BigInt(PROBE_ID_SHIFT), U64) }, e);
    const dst = this.fb.vreg(PROBE_NAME);
    this.fb.emit({ op: "mov", dst, src: id.op });
    return { op: dst };
  }
}
