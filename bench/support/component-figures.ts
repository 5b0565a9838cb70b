/**
 * What one process holds at one moment, for benchmarks that compare a before and an after:
 * a Go component of the control plane (kube-apiserver, KWOK) read from /proc and from its own
 * `/metrics` text, and this Node process read from /proc and `process.memoryUsage()`.
 *
 * Contract: a figure a process does not expose is NaN (JSON `null`), never 0, so a renamed
 * metric shows as missing. CPU is kept as cumulative seconds; `cpuMillicores` turns two samples
 * into a rate. `medianSample` takes each figure's median on its own (not one whole sample).
 */
import { readdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { median } from "./parallel.ts";
import { cpuSeconds, statusKiB } from "./process-stats.ts";
import { firstSampleSum } from "./prometheus-text.ts";

const MiB = 1024 * 1024;

export interface GoProcessSample {
  /** VmRSS of /proc/PID/status. */
  readonly rssMiB: number;
  /** `process_resident_memory_bytes` of its /metrics (the same kernel figure, read by the process). */
  readonly metricsRssMiB: number;
  /** `go_goroutines`. */
  readonly goroutines: number;
  /** `go_memstats_heap_inuse_bytes`: spans holding objects, live or not yet collected. */
  readonly heapInuseMiB: number;
  /** `go_gc_heap_live_bytes`: objects the last GC marked live (steadier than heap in use); NaN in older Go clients. */
  readonly heapLiveMiB: number;
  /** Goroutine stacks: `go_memstats_stack_inuse_bytes`, or `go_memory_classes_heap_stacks_bytes`. */
  readonly stacksMiB: number;
  /** Entries of /proc/PID/fd (sockets included). */
  readonly openFds: number;
  /** utime + stime so far (10 ms ticks). */
  readonly cpuSeconds: number;
}

export interface NodeProcessSample {
  /** VmRSS of this process. */
  readonly rssMiB: number;
  /** V8 heap in use, read right after a full collection when `--expose-gc` could be turned on. */
  readonly heapUsedMiB: number;
  /** Memory outside the V8 heap held by JavaScript objects (Buffers, TLS), ArrayBuffers included. */
  readonly externalMiB: number;
  readonly openFds: number;
  readonly cpuSeconds: number;
}

function metricMiB(text: string, names: readonly string[]): number {
  const value = firstSampleSum(text, names);
  return value === undefined ? Number.NaN : value / MiB;
}

function openFds(pid: number | "self"): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Figures of Go process `pid`, whose /metrics answered `metricsText` just now. */
export function goProcessSample(pid: number, metricsText: string): GoProcessSample {
  return {
    rssMiB: statusKiB(pid, "VmRSS") / 1024,
    metricsRssMiB: metricMiB(metricsText, ["process_resident_memory_bytes"]),
    goroutines: firstSampleSum(metricsText, ["go_goroutines", "go_sched_goroutines_goroutines"]) ?? Number.NaN,
    heapInuseMiB: metricMiB(metricsText, ["go_memstats_heap_inuse_bytes"]),
    heapLiveMiB: metricMiB(metricsText, ["go_gc_heap_live_bytes"]),
    stacksMiB: metricMiB(metricsText, ["go_memstats_stack_inuse_bytes", "go_memory_classes_heap_stacks_bytes"]),
    openFds: openFds(pid),
    cpuSeconds: cpuSeconds(pid),
  };
}

/**
 * A full garbage collection of this process, when V8 lets us expose `gc` at run time (it does
 * in Node 24); otherwise a no-op. Taken before each sample so heap figures are live objects.
 */
export function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("typeof gc === 'function' ? gc : undefined") as (() => void) | undefined;
  gc?.();
}

/** Figures of this Node process. */
export function thisProcessSample(): NodeProcessSample {
  const cpu = process.cpuUsage(); // before the collection, which is the benchmark's own work
  collectGarbage();
  const memory = process.memoryUsage();
  return {
    rssMiB: statusKiB(process.pid, "VmRSS") / 1024,
    heapUsedMiB: memory.heapUsed / MiB,
    externalMiB: memory.external / MiB,
    openFds: openFds("self"),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** Per figure, the median over `samples` (non-empty, all with the same keys). */
export function medianSample<T extends object>(samples: readonly T[]): T {
  const first = samples[0];
  if (first === undefined) throw new RangeError("medianSample needs at least one sample");
  const keys = Object.keys(first) as (keyof T & string)[];
  return Object.fromEntries(keys.map((key) => [key, median(samples.map((s) => s[key] as number))])) as T;
}

/** CPU used between two samples as thousandths of one core. */
export function cpuMillicores(first: { cpuSeconds: number }, last: { cpuSeconds: number }, elapsedMs: number): number {
  return elapsedMs <= 0 ? Number.NaN : ((last.cpuSeconds - first.cpuSeconds) * 1e6) / elapsedMs;
}
