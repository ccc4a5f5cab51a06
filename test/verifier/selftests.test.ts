// Agreement with the kernel on its own verifier selftests. The plain cases are compared with the
// verdicts recorded from the running kernel; the map cases are loaded into the kernel here with
// real maps (the kernel is the oracle) and given to the model with the same map shapes, the bpf_loop
// cases with the BTF and func_info their callbacks need.
// Zero unsound accepts (model accepts, kernel rejects) is the hard requirement.

import { test } from "node:test";
import assert from "node:assert/strict";
import { encode } from "../../compiler/isa/index.js";
import { verify } from "../../compiler/verifier/index.js";
import { BpfLoadError, missingBpf, openSys } from "../../runtime/sys/index.js";
import { FIXUP_MAPS, type SelftestCase, bpfLoopBtf, isFuncInfoCase, isMapCase, isPlain, loadSelftests, modelFlags, modelMaps, progFlags, toInsns, withFixups } from "./selftests.js";

const cases = loadSelftests();

interface Tally {
  n: number;
  agree: number;
  unsound: string[];
  falseReject: string[];
}

function tally(list: SelftestCase[], kernel: (c: SelftestCase) => boolean, model: (c: SelftestCase) => { accepted: boolean; why: string }): Tally {
  const t: Tally = { n: 0, agree: 0, unsound: [], falseReject: [] };
  for (const c of list) {
    t.n++;
    const k = kernel(c);
    const m = model(c);
    if (m.accepted === k) t.agree++;
    else if (m.accepted) t.unsound.push(`${c.descr} (type ${c.prog_type})`);
    else t.falseReject.push(`${c.descr} (type ${c.prog_type}): ${m.why}`);
  }
  return t;
}

function report(name: string, t: Tally): void {
  const pct = ((100 * t.agree) / t.n).toFixed(1);
  console.log(`${name}: ${t.agree}/${t.n} agree (${pct}%), ${t.unsound.length} unsound accepts, ${t.falseReject.length} false rejects`);
  for (const u of t.unsound) console.log(`  unsound accept: ${u}`);
  for (const f of t.falseReject) console.log(`  false reject: ${f}`);
}

test("plain selftests: the model agrees with the recorded 6.18 verdicts", () => {
  const plain = cases.filter((c) => isPlain(c) && c.kernel_6_18);
  assert.equal(plain.length, 414);
  const t = tally(
    plain,
    (c) => c.kernel_6_18!.accepted,
    (c) => {
      const r = verify(toInsns(c), { progType: c.prog_type, expectedAttachType: c.expected_attach_type, flags: modelFlags(c) });
      return { accepted: r.accepted, why: r.error ? `${r.error.pc}: ${r.error.message}` : "" };
    },
  );
  report("plain selftests", t);
  assert.deepEqual(t.unsound, []);
  // floor raised as the model grew; currently every case agrees
  assert.ok(t.agree >= 414, `agreement ${t.agree}/${t.n} fell below the floor`);
});

const noBpf = missingBpf();

test("map selftests: the model agrees with the kernel loading them with real maps", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const list = cases.filter(isMapCase);
  assert.ok(list.length >= 60);
  const kernel = (c: SelftestCase): boolean => {
    const fds: Record<string, number> = {};
    try {
      for (const name of Object.keys(c.fixups)) {
        const m = FIXUP_MAPS[name]!;
        fds[name] = sys.mapCreate({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags ?? 0 });
      }
      const insns = encode(withFixups(c, (name) => fds[name]!));
      const { fd } = sys.progLoad({ type: c.prog_type || 1, insns, flags: progFlags(c), expectedAttachType: c.expected_attach_type });
      sys.close(fd);
      return true;
    } catch (e) {
      if (e instanceof BpfLoadError) return false;
      throw e;
    } finally {
      for (const fd of Object.values(fds)) sys.close(fd);
    }
  };
  const t = tally(list, kernel, (c) => {
    const { maps, fdFor } = modelMaps(c);
    const r = verify(withFixups(c, fdFor), { progType: c.prog_type, maps, expectedAttachType: c.expected_attach_type, flags: modelFlags(c) });
    return { accepted: r.accepted, why: r.error ? `${r.error.pc}: ${r.error.message}` : "" };
  });
  report("map selftests", t);
  assert.deepEqual(t.unsound, []);
  assert.ok(t.agree >= t.n - 2, `agreement ${t.agree}/${t.n} fell below the floor`);
});

test("bpf_loop selftests: the model agrees with the kernel loading them with their BTF func_info", { skip: noBpf ?? false }, () => {
  const sys = openSys();
  const list = cases.filter(isFuncInfoCase);
  assert.equal(list.length, 5);
  const kernel = (c: SelftestCase): boolean => {
    const btf = bpfLoopBtf(c);
    const btfFd = sys.btfLoad({ data: btf.data }).fd;
    try {
      const { fd } = sys.progLoad({ type: c.prog_type || 1, insns: encode(toInsns(c)), flags: progFlags(c), btfFd, funcInfo: btf.funcInfo });
      sys.close(fd);
      return true;
    } catch (e) {
      if (e instanceof BpfLoadError) return false;
      throw e;
    } finally {
      sys.close(btfFd);
    }
  };
  const t = tally(list, kernel, (c) => {
    const r = verify(toInsns(c), { progType: c.prog_type, flags: modelFlags(c), functions: bpfLoopBtf(c).functions });
    return { accepted: r.accepted, why: r.error ? `${r.error.pc}: ${r.error.message}` : "" };
  });
  report("bpf_loop selftests", t);
  assert.deepEqual(t.unsound, []);
  assert.deepEqual(t.falseReject, []);
  assert.equal(t.agree, t.n);
  // the kernel's verdicts are the ones the selftests expect: its BTF was the selftests' own
  for (const c of list) assert.equal(kernel(c), c.result === "ACCEPT", c.descr);
});
