// Where the cgroup v2 hierarchy is, and this process's cgroup id in it: what bpf_get_current_cgroup_id gives it.
import { readFileSync, statSync } from "node:fs";

/** Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system); undefined without it. */
export function cgroup2Mount(): string | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [mount, fs] = line.split(" - ");
    if (fs?.startsWith("cgroup2 ")) return mount!.split(" ")[4];
  }
  return undefined;
}

/** This process's cgroup v2 id: the inode number of the directory /proc/self/cgroup's `0::/PATH` line names. */
export function ownCgroupId(mount: string): bigint {
  const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"))!;
  return statSync(`${mount}${line.slice(3)}`.replace(/\/$/, ""), { bigint: true }).ino;
}
