// The compiler fixtures' stand-ins for the host's kernel, shared by the suites that compile them
// (test/compiler/fixtures.test.ts, test/llvm/backends.test.ts): tracepoint formats from
// test/compiler/fixtures/tracepoints, and a small BTF in place of /sys/kernel/btf/vmlinux.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BtfBuilder, BtfIntEncoding, BtfKind } from "../../compiler/btf/index.js";

export const FIXTURES = "test/compiler/fixtures";

/** A fixture tracepoint's format file, or undefined. */
export const tracepointFormat = (group: string, name: string): string | undefined => {
  const path = join(FIXTURES, "tracepoints", group, `${name}.format`);
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
};

/** Fixture format files by `"group/name"`, as simulate()'s `tracepointFormats` takes them; a name without one throws. */
export const tracepointFormats = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.map((key) => {
    const [group, name] = key.split("/") as [string, string];
    const text = tracepointFormat(group, name);
    if (text === undefined) throw new Error(`no format file for ${key} in ${FIXTURES}/tracepoints: copy /sys/kernel/tracing/events/${key}/format there`);
    return [key, text];
  }));

/**
 * A small stand-in for the kernel's BTF, so "tsbpf/kernel" fixtures do not depend on the host:
 * struct filename { const char *name; const char *uptr; int refcnt; }, a task_struct with
 * thread_info (embedded), pid, tgid, real_parent, comm (char[16]) and counts (int[4]) at made-up
 * offsets and bitfields (in_execve, and nice_bits, signed across a byte), sock_common with its anonymous unions, and
 * sock embedding it (and bitfields: sk_userlocks, and sk_straddle, which no 8-byte unit holds).
 */
export function fixtureVmlinux(): string {
  const b = new BtfBuilder();
  const int = b.add({ kind: BtfKind.INT, name: "int", size: 4, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 32 });
  const char = b.add({ kind: BtfKind.INT, name: "char", size: 1, encoding: BtfIntEncoding.SIGNED, offset: 0, bits: 8 });
  const constChar = b.add({ kind: BtfKind.CONST, name: "", type: char });
  const str = b.add({ kind: BtfKind.PTR, name: "", type: constChar });
  b.add({ kind: BtfKind.STRUCT, name: "filename", size: 32, members: [
    { name: "name", type: str, bitOffset: 0, bitfieldSize: 0 },
    { name: "uptr", type: str, bitOffset: 64, bitfieldSize: 0 },
    { name: "refcnt", type: int, bitOffset: 128, bitfieldSize: 0 },
  ] });
  const task = b.reserve();
  const taskPtr = b.add({ kind: BtfKind.PTR, name: "", type: task });
  const u64 = b.add({ kind: BtfKind.INT, name: "unsigned long", size: 8, encoding: 0, offset: 0, bits: 64 });
  const index = b.add({ kind: BtfKind.INT, name: "__ARRAY_SIZE_TYPE__", size: 4, encoding: 0, offset: 0, bits: 32 });
  const threadInfo = b.add({ kind: BtfKind.STRUCT, name: "thread_info", size: 24, members: [
    { name: "flags", type: u64, bitOffset: 0, bitfieldSize: 0 },
    { name: "syscall_work", type: u64, bitOffset: 64, bitfieldSize: 0 },
  ] });
  const uint = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  b.set(task, { kind: BtfKind.STRUCT, name: "task_struct", size: 4096, kindFlag: true, members: [
    { name: "thread_info", type: threadInfo, bitOffset: 0, bitfieldSize: 0 },
    { name: "pid", type: int, bitOffset: 1000 * 8, bitfieldSize: 0 },
    { name: "tgid", type: int, bitOffset: 1004 * 8, bitfieldSize: 0 },
    { name: "in_execve", type: uint, bitOffset: 1008 * 8 + 3, bitfieldSize: 1 },
    // A signed bitfield across a byte boundary (bits 6..10 of its unit).
    { name: "nice_bits", type: int, bitOffset: 1008 * 8 + 6, bitfieldSize: 5 },
    { name: "real_parent", type: taskPtr, bitOffset: 1016 * 8, bitfieldSize: 0 },
    { name: "comm", type: b.add({ kind: BtfKind.ARRAY, name: "", type: char, indexType: index, nelems: 16 }), bitOffset: 1100 * 8, bitfieldSize: 0 },
    { name: "counts", type: b.add({ kind: BtfKind.ARRAY, name: "", type: int, indexType: index, nelems: 4 }), bitOffset: 1120 * 8, bitfieldSize: 0 },
  ] });
  // struct sock_common as in Linux 6.x: addresses and ports inside anonymous unions of anonymous structs.
  const u16 = b.add({ kind: BtfKind.INT, name: "unsigned short", size: 2, encoding: 0, offset: 0, bits: 16 });
  const u32 = b.add({ kind: BtfKind.INT, name: "unsigned int", size: 4, encoding: 0, offset: 0, bits: 32 });
  const u8 = b.add({ kind: BtfKind.INT, name: "unsigned char", size: 1, encoding: 0, offset: 0, bits: 8 });
  const addrs = b.add({ kind: BtfKind.STRUCT, name: "", size: 8, members: [
    { name: "skc_daddr", type: u32, bitOffset: 0, bitfieldSize: 0 },
    { name: "skc_rcv_saddr", type: u32, bitOffset: 32, bitfieldSize: 0 },
  ] });
  const ports = b.add({ kind: BtfKind.STRUCT, name: "", size: 4, members: [
    { name: "skc_dport", type: u16, bitOffset: 0, bitfieldSize: 0 },
    { name: "skc_num", type: u16, bitOffset: 16, bitfieldSize: 0 },
  ] });
  const common = b.add({ kind: BtfKind.STRUCT, name: "sock_common", size: 136, members: [
    { name: "", type: b.add({ kind: BtfKind.UNION, name: "", size: 8, members: [{ name: "", type: addrs, bitOffset: 0, bitfieldSize: 0 }] }), bitOffset: 0, bitfieldSize: 0 },
    { name: "", type: b.add({ kind: BtfKind.UNION, name: "", size: 4, members: [{ name: "", type: ports, bitOffset: 0, bitfieldSize: 0 }] }), bitOffset: 96, bitfieldSize: 0 },
    { name: "skc_family", type: u16, bitOffset: 128, bitfieldSize: 0 },
    { name: "skc_state", type: u8, bitOffset: 144, bitfieldSize: 0 },
  ] });
  // struct sock embeds sock_common first, as in Linux.
  b.add({ kind: BtfKind.STRUCT, name: "sock", size: 760, kindFlag: true, members: [
    { name: "__sk_common", type: common, bitOffset: 0, bitfieldSize: 0 },
    { name: "sk_mark", type: u32, bitOffset: 400 * 8, bitfieldSize: 0 },
    { name: "sk_userlocks", type: u8, bitOffset: 404 * 8 + 4, bitfieldSize: 4 },
    // A bitfield no aligned 8-byte unit holds (as only a packed struct could have one).
    { name: "sk_straddle", type: u64, bitOffset: 412 * 8, bitfieldSize: 60 },
  ] });
  const path = join(mkdtempSync(join(tmpdir(), "tsbpf-fixture-")), "vmlinux.btf");
  writeFileSync(path, b.toBytes());
  return path;
}
