// Shared pieces of the simulator tests: clang-19 fixtures compiled once per content, and skip reasons.
// Takes a fixture name from test/sim/fixtures; gives the object's path.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const CACHE = join(tmpdir(), "tsbpf-sim-fixtures");

export const CLANG = spawnSync("clang-19", ["--version"]).status === 0 ? "clang-19" : undefined;
export const needsClang = { skip: CLANG ? false : "clang-19 is missing" };
export const hasVmlinux = existsSync("/sys/kernel/btf/vmlinux");
export const needsVmlinux = { skip: hasVmlinux ? false : "no /sys/kernel/btf/vmlinux" };

/** Compiles fixtures/<name>.bpf.c as libbpf users do (clang-19 -O2 -g -target bpf), once per content. */
export function fixture(name: string): string {
  const source = readFileSync(join(FIXTURES, `${name}.bpf.c`));
  const header = readFileSync(join(FIXTURES, "sim.h"));
  const hash = createHash("sha256").update(source).update(header).digest("hex").slice(0, 16);
  const out = join(CACHE, `${name}-${hash}.bpf.o`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const args = ["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c", join(FIXTURES, `${name}.bpf.c`), "-o", tmp];
  const r = spawnSync(CLANG ?? "clang-19", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`clang-19 failed on ${name}.bpf.c:\n${r.stderr}`);
  renameSync(tmp, out); // atomic: parallel test files never see half an object
  return out;
}

/** The sys_enter_unlinkat format file as this kernel (6.x, x86-64) writes it: tests run without tracefs too. */
export const UNLINKAT_FORMAT = `name: sys_enter_unlinkat
ID: 884
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * pathname;	offset:24;	size:8;	signed:0;
	field:int flag;	offset:32;	size:8;	signed:0;

print fmt: "dfd: 0x%08lx, pathname: 0x%08lx, flag: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->pathname)), ((unsigned long)(REC->flag))
`;

/** The fields every tracepoint record starts with, as format files list them. */
const COMMON_FIELDS = `\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
`;

/** The sys_enter_openat format of Linux 6.x on x86-64, so that tests run without tracefs. */
export const OPENAT_FORMAT = `name: sys_enter_openat
ID: 782
format:
${COMMON_FIELDS}
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: "dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename)), ((unsigned long)(REC->flags)), ((unsigned long)(REC->mode))
`;

/** The sys_exit_unlinkat format of Linux 6.x on x86-64 (latency.ts times enter to exit). */
export const UNLINKAT_EXIT_FORMAT = `name: sys_exit_unlinkat
ID: 883
format:
${COMMON_FIELDS}
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;

print fmt: "0x%lx", REC->ret
`;

/** The sched_process_exec format of Linux 6.x: the file name is a __data_loc string after the fixed fields. */
export const EXEC_FORMAT = `name: sched_process_exec
ID: 331
format:
${COMMON_FIELDS}
\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
`;
