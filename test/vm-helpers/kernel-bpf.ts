// A tiny bpf(2) client for oracle tests: map create / update / lookup / delete / next key / freeze
// through koffi. Takes nothing; gives `kernelBpf()` (undefined when bpf() is unavailable here).

import koffi from "koffi";

const SYS_bpf = 321;
const BPF_MAP_CREATE = 0;
const BPF_MAP_LOOKUP_ELEM = 1;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_MAP_DELETE_ELEM = 3;
const BPF_MAP_GET_NEXT_KEY = 4;
const BPF_MAP_FREEZE = 22;
const ATTR_SIZE = 128;

export interface KernelMap {
  fd: number;
  update(key: Uint8Array, value: Uint8Array, flags?: number): number;
  lookup(key: Uint8Array): Uint8Array | number;
  delete(key: Uint8Array): number;
  nextKey(key?: Uint8Array): Uint8Array | number;
  freeze(): number;
  close(): void;
}

export interface KernelBpf {
  createMap(type: number, keySize: number, valueSize: number, maxEntries: number, flags?: number): KernelMap | number;
}

export function kernelBpf(): KernelBpf | undefined {
  let syscall: (nr: number, cmd: number, attr: Buffer, size: number) => number | bigint;
  let close: (fd: number) => number;
  try {
    const libc = koffi.load("libc.so.6");
    syscall = libc.func("long syscall(long nr, int cmd, void *attr, unsigned int size)");
    close = libc.func("int close(int fd)");
  } catch {
    return undefined;
  }
  const bpf = (cmd: number, attr: Buffer): number => {
    const r = Number(syscall(SYS_bpf, cmd, attr, ATTR_SIZE));
    return r < 0 ? -koffi.errno() : r;
  };
  const addr = (b: Buffer): bigint => BigInt(koffi.address(b) as unknown as bigint);

  const api: KernelBpf = {
    createMap(type, keySize, valueSize, maxEntries, flags = 0) {
      const attr = Buffer.alloc(ATTR_SIZE);
      attr.writeUInt32LE(type, 0);
      attr.writeUInt32LE(keySize, 4);
      attr.writeUInt32LE(valueSize, 8);
      attr.writeUInt32LE(maxEntries, 12);
      attr.writeUInt32LE(flags, 16);
      const fd = bpf(BPF_MAP_CREATE, attr);
      if (fd < 0) return fd;
      const elem = (cmd: number, key: Buffer | undefined, value: Buffer | undefined, f = 0): number => {
        const a = Buffer.alloc(ATTR_SIZE);
        a.writeUInt32LE(fd, 0);
        if (key) a.writeBigUInt64LE(addr(key), 8);
        if (value) a.writeBigUInt64LE(addr(value), 16);
        a.writeBigUInt64LE(BigInt(f), 24);
        return bpf(cmd, a);
      };
      return {
        fd,
        update: (k, v, f = 0) => elem(BPF_MAP_UPDATE_ELEM, Buffer.from(k), Buffer.from(v), f),
        lookup: (k) => {
          const out = Buffer.alloc(Math.max(valueSize, 8) * 64);
          const r = elem(BPF_MAP_LOOKUP_ELEM, Buffer.from(k), out);
          return r < 0 ? r : new Uint8Array(out.subarray(0, valueSize));
        },
        delete: (k) => elem(BPF_MAP_DELETE_ELEM, Buffer.from(k), undefined),
        nextKey: (k) => {
          const out = Buffer.alloc(keySize);
          const r = elem(BPF_MAP_GET_NEXT_KEY, k ? Buffer.from(k) : undefined, out);
          return r < 0 ? r : new Uint8Array(out);
        },
        freeze: () => {
          const a = Buffer.alloc(ATTR_SIZE);
          a.writeUInt32LE(fd, 0);
          return bpf(BPF_MAP_FREEZE, a);
        },
        close: () => void close(fd),
      };
    },
  };
  // Probe once: a tiny array map.
  const probe = api.createMap(2, 4, 4, 1);
  if (typeof probe === "number") return undefined;
  probe.close();
  return api;
}
