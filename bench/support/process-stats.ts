/**
 * Memory and CPU of a child process from /proc (Linux): VmRSS sampled on an interval (peak
 * kept), VmHWM (the kernel's own peak RSS) and utime+stime at the end.
 */
import { readFileSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessStats {
  /** Highest VmRSS seen while sampling, in MiB. */
  sampledPeakRssMiB: number;
  /** VmHWM: the kernel's peak resident set size, in MiB. */
  peakRssMiB: number;
  /** Current VmRSS, in MiB. */
  rssMiB: number;
  /** User + system CPU time since the process started, in seconds. */
  cpuSeconds: number;
}

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM, …); 0 when absent. */
export function statusKiB(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? 0 : Number(match[1]);
}

export function cpuSeconds(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Samples `pid` every `intervalMs` until `stop()`, which returns the figures. */
export function sampleProcess(pid: number, intervalMs = 200): { stop(): ProcessStats } {
  let peakKiB = statusKiB(pid, "VmRSS");
  const timer = setInterval(() => {
    peakKiB = Math.max(peakKiB, statusKiB(pid, "VmRSS"));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const rss = statusKiB(pid, "VmRSS");
      peakKiB = Math.max(peakKiB, rss);
      return {
        sampledPeakRssMiB: peakKiB / 1024,
        peakRssMiB: statusKiB(pid, "VmHWM") / 1024,
        rssMiB: rss / 1024,
        cpuSeconds: cpuSeconds(pid),
      };
    },
  };
}
