// The simulated kernel as a test sees it: the current task, CPUs, the clock, and memory in which a
// test places C structs (laid out by BTF), strings and byte arrays, getting typed pointers back.
// Takes the VM's SimKernel and the BTF sources for layouts; gives TestKernel (`sim.kernel`) and Pointer.

import type { SimKernel, TaskState } from "../vm/index.js";
import { decodeValue, encodeValue, findType, type BtfSource, type CValue, type Decoded, type TypeRef } from "./layout.js";
import { usage } from "./errors.js";
import { MAX_NS, checkTask, integerIn, nanoseconds, shown } from "./check.js";

export type Space = "kernel" | "user";

/** An address in simulated memory; a typed one (from `alloc`) can read itself and point at members. */
export class Pointer {
  private halves: Int32Array | undefined = undefined;
  constructor(
    readonly address: bigint,
    readonly space: Space,
    /** Bytes mapped at the address (what a probe read may take from it). */
    readonly size: number,
    readonly type: TypeRef | undefined,
    private readonly kernel: TestKernel,
  ) {}

  /** Low 32 bits of the address, as an int32 (for building registers without BigInt). */
  get lo(): number {
    return (this.halves ??= addressHalves(this.address))[0]!;
  }
  /** High 32 bits of the address, as an int32. */
  get hi(): number {
    return (this.halves ??= addressHalves(this.address))[1]!;
  }

  /** A pointer to member `name` (nested members as "a.b"), typed by the member's type. */
  field(path: string): Pointer {
    if (!this.type) throw usage(`pointer ${this} has no type: allocate it with alloc(typeName, ...) to use fields`);
    const { btf } = this.type;
    let id = this.type.id;
    let offset = 0;
    for (const part of path.split(".")) {
      const m = btf.findMember(id, part);
      if (!m) throw usage(`${btf.typeName(id)} has no member ${part}`);
      if (m.member.bitfieldSize > 0 || m.bitOffset % 8) throw usage(`${path} is a bitfield and has no address: give its value among the struct's fields (alloc(), write()), and read() it back`);
      offset += m.bitOffset / 8;
      id = m.member.type;
    }
    const size = btf.sizeOf(id);
    return new Pointer(this.address + BigInt(offset), this.space, size, { btf, id, name: btf.typeName(id), size }, this.kernel);
  }

  /** The current value at the pointer, decoded by its type (bytes when untyped). */
  read(): Decoded {
    const bytes = this.kernel.read(this, this.size);
    return this.type ? decodeValue(this.type.btf, this.type.id, bytes) : bytes;
  }

  /** Overwrites fields (or the whole value) in place, as `alloc` wrote them. */
  write(value: CValue): void {
    if (!this.type) throw usage(`pointer ${this} has no type; write bytes with kernel.write()`);
    const bytes = this.kernel.read(this, this.size);
    encodeValue(this.type.btf, this.type.id, value, bytes, 0, this.type.name, this.kernel.stringsFor(this.space));
    this.kernel.write(this, bytes);
  }

  toString(): string {
    return `0x${this.address.toString(16)}${this.type ? ` (${this.type.name} *)` : ""}`;
  }
}

function addressHalves(address: bigint): Int32Array {
  const a = BigInt.asUintN(64, address);
  return Int32Array.of(Number(a & 0xffffffffn) | 0, Number(a >> 32n) | 0);
}

export interface AllocOptions {
  /** Place it in the current process's user memory instead of kernel memory. */
  user?: boolean;
  /** Extra bytes after the type (flexible array members). */
  extra?: number;
}

export class TestKernel {
  constructor(
    /** The VM's kernel, for what this API does not cover (symbols, stacks, prandom seed). */
    readonly vm: SimKernel,
    private readonly layouts: readonly BtfSource[],
  ) {}

  // --- task and CPU ---

  get pid(): number {
    return this.vm.pid;
  }
  set pid(v: number) {
    this.setTask({ pid: v });
  }
  get tgid(): number {
    return this.vm.tgid;
  }
  set tgid(v: number) {
    checkTask({ tgid: v }, "the task");
    this.vm.tgid = v;
  }
  get uid(): number {
    return this.vm.uid;
  }
  set uid(v: number) {
    checkTask({ uid: v }, "the task");
    this.vm.uid = v;
  }
  get gid(): number {
    return this.vm.gid;
  }
  set gid(v: number) {
    checkTask({ gid: v }, "the task");
    this.vm.gid = v;
  }
  /** The task's cgroup v2 id (cgroupId(), bpf_get_current_cgroup_id); 1, the root cgroup's, by default. */
  get cgroup(): bigint {
    return this.vm.cgroup;
  }
  set cgroup(v: bigint | number) {
    checkTask({ cgroup: v }, "the task");
    this.vm.cgroup = BigInt(v);
  }
  get comm(): string {
    return this.vm.comm;
  }
  set comm(v: string) {
    checkTask({ comm: v }, "the task");
    this.vm.comm = v;
  }
  /** The task_struct bpf_get_current_task (currentTask()) returns: one placed with alloc("task_struct", ...). */
  get currentTask(): bigint {
    return this.vm.currentTask;
  }
  set currentTask(task: Pointer | bigint) {
    this.vm.currentTask = task instanceof Pointer ? task.address : task;
  }
  /** Sets several task fields; another pid switches tasks: one seen before comes back as it was, a new one without a tgid is a single-threaded process (tgid = pid). */
  setTask(task: Partial<TaskState>): void {
    checkTask(task, "setTask()'s task");
    this.vm.setTask(task);
  }
  get cpu(): number {
    return this.vm.cpu;
  }
  set cpu(n: number) {
    const last = this.vm.numCpus - 1;
    if (!Number.isInteger(n) || n < 0 || n > last) throw usage(`CPU ${shown(n)} is outside 0..${last} (simulate()'s cpus option sets how many there are)`);
    this.vm.cpu = n;
  }
  get numCpus(): number {
    return this.vm.numCpus;
  }

  // --- clock ---

  /** CLOCK_MONOTONIC in ns, what bpf_ktime_get_ns returns. */
  get time(): bigint {
    return this.vm.timeNs;
  }
  set time(ns: bigint) {
    this.vm.setTime(nanoseconds(ns, "the time"));
  }
  setTime(ns: bigint | number): void {
    this.vm.setTime(nanoseconds(ns, "setTime()'s time"));
  }
  advance(ns: bigint | number): void {
    const step = nanoseconds(ns, "advance()'s step");
    // The clock stays a u64: moving it past 2^64 - 1 would wrap it back, which no kernel's clock does.
    if (this.vm.timeNs + step > MAX_NS) throw usage(`advance()'s step of ${step}n would take the clock past 2^64 - 1 nanoseconds (it is at ${this.vm.timeNs}n)`);
    this.vm.advance(step);
  }

  // --- memory ---

  /** The layout of a type by name: from the kernel's BTF, else from the probe's own. */
  type(name: string): TypeRef {
    if (typeof name !== "string") throw usage(`a type is named by a string such as "task_struct", not ${shown(name)}`);
    return findType(this.layouts, name);
  }

  /**
   * Places a zeroed `typeName` in kernel (or user) memory, fills `fields` and returns a typed pointer.
   * Fields take numbers, bigints, pointers, strings (char arrays; for `char *` members a string is
   * allocated beside), nested objects and arrays.
   */
  alloc(typeName: string, fields: CValue = {}, options: AllocOptions = {}): Pointer {
    const extra = options.extra === undefined ? 0 : integerIn(options.extra, 0, MAX_EXTRA, "alloc()'s extra bytes");
    const type = this.type(typeName);
    const space: Space = options.user ? "user" : "kernel";
    const size = type.size + extra;
    const bytes = new Uint8Array(pageBacked(size));
    encodeValue(type.btf, type.id, fields, bytes.subarray(0, size), 0, typeName, this.stringsFor(space));
    const region = space === "user" ? this.vm.userRegion(bytes, `user ${typeName}`) : this.vm.kernelRegion(bytes, `kernel ${typeName}`);
    return new Pointer(region.address(0), space, size, type, this);
  }

  /** A NUL-terminated string in kernel memory. */
  string(s: string): Pointer {
    const bytes = cString(text(s, "string()"));
    return new Pointer(this.vm.kernelBytes(inPage(bytes), `kernel string "${s.slice(0, 20)}"`), "kernel", bytes.length, undefined, this);
  }

  /** A NUL-terminated string in the current process's user memory. */
  userString(s: string): Pointer {
    const bytes = cString(text(s, "userString()"));
    return new Pointer(this.vm.userBytes(inPage(bytes), `user string "${s.slice(0, 20)}"`), "user", bytes.length, undefined, this);
  }

  /** Raw bytes (a copy) in kernel or user memory. */
  bytes(data: Uint8Array, options: { user?: boolean } = {}): Pointer {
    if (!(data instanceof Uint8Array)) throw usage(`bytes() takes a Uint8Array, not ${shown(data)}; strings go through string() or userString()`);
    const copy = inPage(data);
    const address = options.user ? this.vm.userBytes(copy) : this.vm.kernelBytes(copy);
    return new Pointer(address, options.user ? "user" : "kernel", data.length, undefined, this);
  }

  /**
   * An address whose reads fault, as an unmapped page does: probe reads of it return -EFAULT and
   * zero their buffer. Typed when `typeName` is given, so it can stand in for a struct pointer.
   */
  faulting(typeName?: string, options: { user?: boolean } = {}): Pointer {
    const type = typeName ? this.type(typeName) : undefined;
    const size = Math.max(type?.size ?? 0, 4096);
    const region = options.user ? this.vm.userRegion(size, "faulting user page") : this.vm.kernelRegion(size, "faulting kernel page");
    const address = region.address(0);
    this.vm.markFaulting(address, size);
    return new Pointer(address, options.user ? "user" : "kernel", size, type, this);
  }

  /** Makes existing memory fault from now on (a page that went away). */
  markFaulting(at: Pointer | bigint, size = at instanceof Pointer ? at.size : 1): void {
    this.vm.markFaulting(addressOf(at, "markFaulting()"), integerIn(size, 0, Number.MAX_SAFE_INTEGER, "markFaulting()'s size"));
  }

  read(at: Pointer | bigint, size: number): Uint8Array {
    const address = addressOf(at, "read()");
    integerIn(size, 0, Number.MAX_SAFE_INTEGER, "read()'s size");
    try {
      return this.vm.memory.read(address, size);
    } catch (e) {
      throw usage(`cannot read ${size} bytes at ${at}: ${(e as Error).message}`);
    }
  }

  write(at: Pointer | bigint, data: Uint8Array): void {
    const address = addressOf(at, "write()");
    if (!(data instanceof Uint8Array)) throw usage(`write() takes a Uint8Array of bytes, not ${shown(data)}`);
    try {
      this.vm.memory.write(address, data);
    } catch (e) {
      throw usage(`cannot write ${data.length} bytes at ${at}: ${(e as Error).message}`);
    }
  }

  /** How `char *` fields given as strings are placed for memory in `space`. */
  stringsFor(space: Space): { string(s: string): Pointer } {
    return { string: (s: string) => (space === "user" ? this.userString(s) : this.string(s)) };
  }
}

/**
 * What the test places starts a page of its own, the rest of which is mapped and zero: a probe read past the object's
 * end reads on, as a read past a string or struct in a real process or the kernel does, until the page ends.
 */
const PAGE = 4096;
const pageBacked = (size: number): number => Math.max(PAGE, Math.ceil(size / PAGE) * PAGE);
function inPage(data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(pageBacked(data.length));
  bytes.set(data);
  return bytes;
}

/** Most bytes alloc() places after a type (a flexible array's elements): more is a mistake, not a struct. */
const MAX_EXTRA = 1 << 30;

/** The address of a Pointer or a bigint address. */
function addressOf(at: unknown, what: string): bigint {
  if (at instanceof Pointer) return at.address;
  if (typeof at === "bigint") return at;
  throw usage(`${what} takes a Pointer or a bigint address, not ${shown(at)}`);
}

/** A string argument, checked: a number or object here is a test's mistake, not a C string. */
function text(s: unknown, what: string): string {
  if (typeof s !== "string") throw usage(`${what} takes a string, not ${shown(s)}`);
  return s;
}

function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
