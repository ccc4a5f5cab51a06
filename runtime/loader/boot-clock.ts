// The real time at which this host booted, for strftime()'s values (nanoseconds since boot, as bpftrace's nsecs):
// bpftrace 0.17 adds them to CLOCK_REALTIME minus CLOCK_BOOTTIME. Gives that sum's base, in ns since the epoch.

import { readFileSync } from "node:fs";
import type { BootClock } from "../../compiler/ir/printf.js";

/**
 * CLOCK_REALTIME - CLOCK_BOOTTIME from /proc/timer_list (root only), exact: the kernel's offsets of the realtime and
 * boottime clocks from the monotonic one, hrtimer clock bases 1 and 2. Read once (the file lists every CPU's timers),
 * as bpftrace reads its boot time once at its start. Without the file (not root), the process's realtime minus its
 * monotonic clock, which is the same where the host has never been suspended.
 */
export function bootRealtimeNs(): bigint {
  return (cached ??= readBootRealtimeNs());
}

let cached: bigint | undefined;

function readBootRealtimeNs(): bigint {
  try {
    const text = readFileSync("/proc/timer_list", "utf8");
    const offset = (base: number): bigint | undefined => {
      const m = new RegExp(`^ clock ${base}:\\n(?:  .*\\n)*?  \\.offset:\\s+(-?\\d+) nsecs`, "m").exec(text);
      return m ? BigInt(m[1]!) : undefined;
    };
    const real = offset(1);
    const boot = offset(2);
    if (real !== undefined && boot !== undefined) return real - boot;
  } catch {
    // unreadable: estimated below
  }
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** This host's clock in local time, as tsbpf run prints strftime() values. */
export const HOST_BOOT_CLOCK: BootClock = { bootRealtimeNs, utc: false };
