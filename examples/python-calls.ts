// Python function calls, through the USDT probes CPython is built with (`readelf -n /usr/bin/python3` lists them):
// function__entry fires on every call of a Python function with its file, name and first line. The probes are
// guarded by semaphores, so CPython reports them only while one is attached. Try with
// `tsbpf run examples/python-calls.ts -c "python3 -c 'import json; json.dumps([1])'"`.
import { usdt, RingBuf, pidTgid, readUserStr, type i32, type u32, type u64, type Str } from "tsbpf";

export const license = "GPL";

export interface Call {
  pid: u32;
  line: i32;
  file: Str<64>;
  func: Str<32>;
}

export const calls = new RingBuf<Call>(256 * 1024);

// function__entry(const char *filename, const char *funcname, int lineno)
export const function_entry = usdt("/usr/bin/python3", "python", "function__entry", (file: u64, func: u64, line: i32) => {
  const c = calls.reserve();
  if (c === null) return 0;
  c.pid = (pidTgid() >> 32) as u32;
  c.line = line;
  c.file = readUserStr(file);
  c.func = readUserStr(func);
  calls.submit(c);
  return 0;
});
