// sslsniff: the plaintext of every SSL_read() and SSL_write() through OpenSSL's libssl (and their _ex forms), in bcc's
// sslsniff layout: what a program sends and receives over TLS before encryption and after decryption. The entry
// uprobes save the buffer's address per thread; the uretprobes copy as many bytes as the call moved, up to 4 KiB
// (readUser's length: the classic bounded copy of a variable length), into a per-CPU scratch value and print them.
// Text prints up to its first NUL byte, as bcc's does.
//   npx tsbpf run tools/sslsniff.ts -c "curl -sk https://localhost:8443/"     # an `openssl s_server -www -accept 8443` there
import { begin, uprobe, uretprobe, printf, pidTgid, comm, readUser, HashMap, PerCpuArrayMap, type u8, type u32, type u64, type i32, type i64, type Str } from "tsbpf";

export const license = "GPL";

const LIBSSL = "libssl.so.3";
const MAX_DATA = 4096;

interface Pending {
  write: u8;
  buf: u64;
  /** SSL_read_ex()'s and SSL_write_ex()'s size_t *: where the count goes; 0 for SSL_read() and SSL_write(). */
  countAt: u64;
}

/** The bytes copied, out of the stack's 512 bytes. */
interface Scratch {
  data: Str<4096>;
}

/** The call a thread is in: one at a time, as SSL_read() and SSL_write() do not nest. */
const pending = new HashMap<u32, Pending>(10240);
const scratch = new PerCpuArrayMap<Scratch>(1);

export const header = begin(() => {
  printf("%-12s %-16s %-7s %-7s %s\n", "FUNC", "COMM", "PID", "TID", "LEN");
});

function enter(write: u8, buf: u64, countAt: u64) {
  pending.update(pidTgid() as u32, { write, buf, countAt });
}

// The functions return an int: its 32 bits of the register, or -1 would read as 4294967295.
function leave(ret: i32) {
  const tid = pidTgid() as u32;
  const p = pending.lookup(tid);
  if (p === null) return; // entered before the probe was attached
  // SSL_read/SSL_write return the count (<= 0 on failure); the _ex forms 1, and the count through their pointer.
  const len: i64 = p.countAt === 0 ? ret : ret === 1 ? readUser<u64>(p.countAt) : 0;
  const buf = p.buf;
  const write = p.write;
  pending.delete(tid);
  if (len <= 0) return;
  const s = scratch.lookup(0);
  if (s === null) return;
  s.data = readUser<Str<4096>>(buf, len);
  printf("%-12s %-16s %-7d %-7d %d%s\n----- DATA -----\n%s\n----- END DATA -----\n", write ? "WRITE/SEND" : "READ/RECV", comm(), pidTgid() >> 32, tid, len,
    len > MAX_DATA ? " (first 4096 bytes)" : "", s.data);
}

// SSL_read(ssl, buf, num), SSL_write(ssl, buf, num); SSL_read_ex(ssl, buf, num, size_t *readbytes) and SSL_write_ex.
export const read = uprobe(LIBSSL, "SSL_read", (ssl: u64, buf: u64) => enter(0, buf, 0));
export const readEx = uprobe(LIBSSL, "SSL_read_ex", (ssl: u64, buf: u64, num: u64, countAt: u64) => enter(0, buf, countAt));
export const write = uprobe(LIBSSL, "SSL_write", (ssl: u64, buf: u64) => enter(1, buf, 0));
export const writeEx = uprobe(LIBSSL, "SSL_write_ex", (ssl: u64, buf: u64, num: u64, countAt: u64) => enter(1, buf, countAt));
export const readRet = uretprobe(LIBSSL, "SSL_read", (ret: i32) => leave(ret));
export const readExRet = uretprobe(LIBSSL, "SSL_read_ex", (ret: i32) => leave(ret));
export const writeRet = uretprobe(LIBSSL, "SSL_write", (ret: i32) => leave(ret));
export const writeExRet = uretprobe(LIBSSL, "SSL_write_ex", (ret: i32) => leave(ret));
