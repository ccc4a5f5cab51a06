// usym(), bpftrace's: a user address and the tgid of its process in a `struct tsbpf_usym`, so that `tsbpf run` prints
// map keys, record fields and printf's `%s` as the function the address is in within that process; both backends,
// the simulator (whose processes have no symbols: hex), diagnostics, and a uprobe on a real process.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/index.js";
import { USYM_STRUCT, mapTags, parseBtf } from "../../compiler/btf/index.js";
import { decodeArgs } from "../../compiler/ir/printf.js";
import { missingBpf, missingRoot, openSys } from "../../runtime/sys/index.js";
import { simulate } from "../../runtime/test/index.js";
import { CLI } from "../support/cli.js";

const SOURCE = `import { uprobe, usym, printf, HashMap, RingBuf, type UserSymbol, type u64 } from "tsbpf";
export const license = "GPL";
export const starts = new HashMap<UserSymbol, u64>(64);
export interface Start { routine: UserSymbol; n: u64 }
export const events = new RingBuf<Start>(4096);
export const p = uprobe("/bin/true", "main", (_t: u64, _a: u64, routine: u64) => {
  starts.increment(usym(routine));
  const s = usym(routine + 4);
  events.output({ routine: s, n: 1 });
  printf("%s|%s|\\n", usym(routine), s);
  printf(\`at \${usym(routine)}\\n\`);
});
`;

describe("usym()", () => {
  it("types its value struct tsbpf_usym in BTF and in the printf record, in both backends", () => {
    for (const backend of ["own", "llvm"] as const) {
      const r = compile({ fileName: "usym.ts", text: SOURCE }, { arch: "x86_64", backend });
      assert.deepEqual(r.diagnostics, [], backend);
      const btf = parseBtf(r.btf);
      const struct = [...btf.types()].find((t) => t.name === USYM_STRUCT);
      assert.ok(struct && "size" in struct && struct.size === 16, backend);
      const actions = [...btf.types()].find((t) => t.name === "tsbpf_actions");
      assert.deepEqual(mapTags(btf, actions!.id).printf?.map((p) => p.args), [["usym", "usym"], ["usym"]], backend);
    }
  });

  it("decodes a record's address and pid for the namer, hex without one", () => {
    const record = new Uint8Array(24);
    const view = new DataView(record.buffer);
    view.setBigUint64(8, 0x401126n, true);
    view.setBigUint64(16, 4242n, true);
    const seen: [number, bigint][] = [];
    assert.deepEqual(decodeArgs(record, ["usym"], { usym: (pid, address) => (seen.push([pid, address]), "main") }), ["main"]);
    assert.deepEqual(seen, [[4242, 0x401126n]]);
    assert.deepEqual(decodeArgs(record, ["usym"]), ["0x401126"]);
  });

  it("in the simulator, keys hold the address and the process, and printf writes the address in hex", async () => {
    const sim = await simulate({ fileName: "usym.ts", text: SOURCE }, { arch: "x86_64" });
    sim.uprobe("/bin/true:main", { args: [0, 0, 0x401126], pid: 77 });
    assert.deepEqual([...sim.map("starts").toMap()], [[{ address: 0x401126n, pid: 77n }, 1n]]);
    assert.equal(sim.output(), "0x401126|0x40112a|\nat 0x401126\n");
    assert.deepEqual(sim.events("events"), [{ routine: { address: 0x40112a, pid: 77 }, n: 1 }]);
  });

  it("is refused where an integer is wanted, and in begin(), saying what to write", () => {
    const bad = (body: string) => compile({ fileName: "bad.ts", text: `import { begin, uprobe, usym, printf, type u64 } from "tsbpf";\nexport const license = "GPL";\n${body}\n` }, { arch: "x86_64" }).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
    assert.match(bad(`export const p = uprobe("/bin/true", "main", (f: u64) => { const x: u64 = usym(f) as any; });`).join("\n"), /^3:\d+ TSBPF\d+ usym\(\) gives a UserSymbol \(an address and its process\), not an integer: count by it/);
    assert.match(bad(`export const b = begin(() => { printf("%s\\n", usym(1)); });`).join("\n"), /usym\(\) names an address of the process a probe interrupted, and a begin\(\) handler runs in tsbpf run itself/);
  });
});

const noKernel = missingRoot() ?? missingBpf(openSys());
const noGcc = spawnSync("gcc", ["--version"]).status === 0 ? undefined : "gcc is not installed";

describe("usym() on this kernel", { skip: noKernel ?? noGcc }, () => {
  it("tsbpf run names pthread_create()'s start routine in printf and, after the command has exited, in a map key", () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-usym-"));
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    try {
      const c = join(dir, "threads.c");
      // The thread sleeps a little, so the process is still there when its printf record is read.
      writeFileSync(c, `#include <pthread.h>
#include <unistd.h>
void *worker(void *a) { usleep(200000); return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, worker, 0); pthread_join(t, 0); return 0; }
`);
      const bin = join(dir, "threads");
      execFileSync("gcc", ["-O1", "-pthread", "-o", bin, c]);
      const file = join(dir, "usym.ts");
      writeFileSync(file, `import { uprobe, usym, printf, targetPid, pidTgid, HashMap, type UserSymbol, type u64 } from "tsbpf";
export const license = "GPL";
export const starts = new HashMap<UserSymbol, u64>(8);
export const create = uprobe("libc.so.6", "pthread_create", (_t: u64, _a: u64, routine: u64) => {
  if (pidTgid() >> 32 !== targetPid()) return;
  starts.increment(usym(routine));
  printf("%s|%s|%s\\n", usym(routine), usym(routine + 1), usym(0x1234));
});
`);
      const r = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^worker\|worker\|0x1234$/m);
      assert.match(r.stdout, /^@starts\[worker\]: 1$/m);
      const json = spawnSync(process.execPath, [...CLI, "run", file, "--no-cache", "--json", "-c", bin], { encoding: "utf8", env, timeout: 60_000 });
      assert.equal(json.status, 0, json.stderr);
      assert.match(json.stdout, /^\{"printf":"worker\|worker\|0x1234\\n"\}$/m);
      assert.match(json.stdout, /^\{"map":"starts","entries":\[\{"key":"worker","value":1\}\]\}$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
