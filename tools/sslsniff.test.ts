// Unit tests for tools/sslsniff.ts: the plaintext of SSL_write() and SSL_read() (and their _ex forms), copied at the
// return for as many bytes as the call moved.
import { test } from "node:test";
import assert from "node:assert/strict";
import { simulate } from "tsbpf/test";

const u64le = (n: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};

test("sslsniff: a write and a read print the bytes the calls moved, in bcc's layout", async () => {
  const sim = await simulate("tools/sslsniff.ts");
  sim.begin();
  // The request's buffer holds more than SSL_write() sends (and ends its mapping): only the 14 bytes print.
  const request = sim.kernel.bytes(new TextEncoder().encode("GET / HTTP/1.1 and what follows"), { user: true });
  sim.uprobe("libssl.so.3:SSL_write", { args: [0x1000, request, 14], pid: 60, comm: "curl" });
  sim.uretprobe("libssl.so.3:SSL_write", { ret: 14 });
  const response = sim.kernel.bytes(new TextEncoder().encode("HTTP/1.0 200 ok\0"), { user: true });
  sim.uprobe("libssl.so.3:SSL_read", { args: [0x1000, response, 16384] });
  sim.uretprobe("libssl.so.3:SSL_read", { ret: 0xffff_ffffn }); // -1 in eax (SSL_ERROR_WANT_READ): nothing
  sim.uprobe("libssl.so.3:SSL_read", { args: [0x1000, response, 16384] });
  sim.uretprobe("libssl.so.3:SSL_read", { ret: 15 });
  assert.deepEqual(sim.output().split("\n").map((l) => l.trimEnd()), [
    "FUNC         COMM             PID     TID     LEN",
    "WRITE/SEND   curl             60      60      14",
    "----- DATA -----",
    "GET / HTTP/1.1",
    "----- END DATA -----",
    "READ/RECV    curl             60      60      15",
    "----- DATA -----",
    "HTTP/1.0 200 ok",
    "----- END DATA -----",
    "",
  ]);
  assert.equal(sim.map("pending").toMap().size, 0);
});

test("sslsniff: SSL_read_ex() gives its count through a pointer; a read beyond 4 KiB prints its first 4 KiB", async () => {
  const sim = await simulate("tools/sslsniff.ts");
  const big = "x".repeat(5000);
  const buf = sim.kernel.bytes(new TextEncoder().encode(big), { user: true });
  const count = sim.kernel.bytes(u64le(5000), { user: true });
  sim.uprobe("libssl.so.3:SSL_read_ex", { args: [0x1000, buf, 8192, count], pid: 70, tgid: 70, comm: "python3" });
  sim.uretprobe("libssl.so.3:SSL_read_ex", { ret: 1 });
  sim.uprobe("libssl.so.3:SSL_write_ex", { args: [0x1000, buf, 10, count] });
  sim.uretprobe("libssl.so.3:SSL_write_ex", { ret: 0 }); // failed: no count, nothing printed
  const lines = sim.output().split("\n");
  assert.deepEqual(lines[0]!.split(/\s+/), ["READ/RECV", "python3", "70", "70", "5000", "(first", "4096", "bytes)"]);
  assert.equal(lines[2], "x".repeat(4096));
  assert.equal(lines.length, 5);
});
