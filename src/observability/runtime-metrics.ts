/**
 * Process and Node.js runtime metrics, under the names of prom-client's `collectDefaultMetrics`
 * (which follow the Go client's process collector for `process_*`), so the Node.js dashboards and
 * alerts people already run work unchanged:
 *
 * - `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total`, `process_cpu_seconds_total`,
 *   `process_start_time_seconds`, `process_resident_memory_bytes`, and on Linux (from /proc)
 *   `process_virtual_memory_bytes`, `process_heap_bytes`, `process_open_fds`, `process_max_fds`;
 * - `nodejs_eventloop_lag_seconds` (a setImmediate probe at scrape time) and
 *   `nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds` (perf_hooks'
 *   monitorEventLoopDelay, reset at every scrape);
 * - `nodejs_gc_duration_seconds{kind}` (histogram, from PerformanceObserver "gc" entries);
 * - `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes`, `nodejs_external_memory_bytes`,
 *   `nodejs_heap_space_size_{total,used,available}_bytes{space}`;
 * - `nodejs_active_resources{type}` — but not prom-client's `nodejs_active_resources_total`,
 *   `nodejs_active_handles_total` and `nodejs_active_requests_total`: gauges named `_total`, which
 *   `promtool check metrics` rejects ("non-counter metrics should not have _total suffix");
 *   `sum(nodejs_active_resources)` is the total;
 * - `nodejs_version_info{version,major,minor,patch}`.
 *
 * Why our own registry and not prom-client: docs/metrics.md (exposition checked by promtool,
 * scrape cost at 1,000 PortForwards measured side by side).
 *
 * Values are read when `/metrics` is scraped (Registry.collect); the event-loop monitor and the
 * GC observer run only between `start()` and `stop()`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import type { Registry } from "./metrics.ts";

/** prom-client's GC buckets. */
export const GC_DURATION_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 2, 5];

const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};

export interface RuntimeMetrics {
  /** Starts the event-loop delay monitor and the GC observer. Idempotent. */
  start(): void;
  /** Stops them (the values read at scrape time stay available). Idempotent. */
  stop(): void;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** A `kB` line of /proc/self/status in bytes, e.g. `VmSize:   123 kB`. */
export function statusBytes(status: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** The soft `Max open files` limit of /proc/self/limits. */
export function maxOpenFiles(limits: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (match === null) return undefined;
  return match[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match[1]);
}

export function registerRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const procAvailable = readProc("/proc/self/status") !== undefined;

  const cpuUser = registry.counter({ name: "process_cpu_user_seconds_total", help: "Total user CPU time spent in seconds." });
  const cpuSystem = registry.counter({ name: "process_cpu_system_seconds_total", help: "Total system CPU time spent in seconds." });
  const cpuTotal = registry.counter({ name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds." });
  const startTime = registry.gauge({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds." });
  const rss = registry.gauge({ name: "process_resident_memory_bytes", help: "Resident memory size in bytes." });
  const proc = procAvailable
    ? {
        virtual: registry.gauge({ name: "process_virtual_memory_bytes", help: "Virtual memory size in bytes." }),
        heap: registry.gauge({ name: "process_heap_bytes", help: "Process heap size in bytes." }),
        openFds: registry.gauge({ name: "process_open_fds", help: "Number of open file descriptors." }),
        maxFds: registry.gauge({ name: "process_max_fds", help: "Maximum number of open file descriptors." }),
      }
    : undefined;

  const lag = registry.gauge({ name: "nodejs_eventloop_lag_seconds", help: "Lag of event loop in seconds." });
  const lagStats = {
    min: registry.gauge({ name: "nodejs_eventloop_lag_min_seconds", help: "The minimum recorded event loop delay." }),
    max: registry.gauge({ name: "nodejs_eventloop_lag_max_seconds", help: "The maximum recorded event loop delay." }),
    mean: registry.gauge({ name: "nodejs_eventloop_lag_mean_seconds", help: "The mean of the recorded event loop delays." }),
    stddev: registry.gauge({
      name: "nodejs_eventloop_lag_stddev_seconds",
      help: "The standard deviation of the recorded event loop delays.",
    }),
    p50: registry.gauge({ name: "nodejs_eventloop_lag_p50_seconds", help: "The 50th percentile of the recorded event loop delays." }),
    p90: registry.gauge({ name: "nodejs_eventloop_lag_p90_seconds", help: "The 90th percentile of the recorded event loop delays." }),
    p99: registry.gauge({ name: "nodejs_eventloop_lag_p99_seconds", help: "The 99th percentile of the recorded event loop delays." }),
  };
  const gc = registry.histogram({
    name: "nodejs_gc_duration_seconds",
    help: "Garbage collection duration by kind, one of major, minor, incremental or weakcb.",
    labelNames: ["kind"],
    buckets: GC_DURATION_BUCKETS,
  });
  const heapTotal = registry.gauge({ name: "nodejs_heap_size_total_bytes", help: "Process heap size from Node.js in bytes." });
  const heapUsed = registry.gauge({ name: "nodejs_heap_size_used_bytes", help: "Process heap size used from Node.js in bytes." });
  const external = registry.gauge({ name: "nodejs_external_memory_bytes", help: "Node.js external memory size in bytes." });
  const spaceTotal = registry.gauge({
    name: "nodejs_heap_space_size_total_bytes",
    help: "Process heap space size total from Node.js in bytes.",
    labelNames: ["space"],
  });
  const spaceUsed = registry.gauge({
    name: "nodejs_heap_space_size_used_bytes",
    help: "Process heap space size used from Node.js in bytes.",
    labelNames: ["space"],
  });
  const spaceAvailable = registry.gauge({
    name: "nodejs_heap_space_size_available_bytes",
    help: "Process heap space size available from Node.js in bytes.",
    labelNames: ["space"],
  });
  const resources = registry.gauge({
    name: "nodejs_active_resources",
    help: "Number of active resources that are currently keeping the event loop alive, grouped by async resource type.",
    labelNames: ["type"],
  });
  const versionInfo = registry.gauge({
    name: "nodejs_version_info",
    help: "Node.js version info.",
    labelNames: ["version", "major", "minor", "patch"],
  });

  const [major = "", minor = "", patch = ""] = process.versions.node.split(".");
  versionInfo.set({ version: process.version, major, minor, patch }, 1);
  startTime.set(undefined, Math.round(performance.timeOrigin) / 1000);

  const delay = monitorEventLoopDelay({ resolution: 10 });
  let gcObserver: PerformanceObserver | undefined;
  let resourceTypes = new Set<string>();

  registry.addCollector(async () => {
    const cpu = process.cpuUsage();
    cpuUser.setTotal(undefined, cpu.user / 1e6);
    cpuSystem.setTotal(undefined, cpu.system / 1e6);
    cpuTotal.setTotal(undefined, (cpu.user + cpu.system) / 1e6);
    const memory = process.memoryUsage();
    rss.set(undefined, memory.rss);
    heapTotal.set(undefined, memory.heapTotal);
    heapUsed.set(undefined, memory.heapUsed);
    external.set(undefined, memory.external);
    if (proc !== undefined) {
      const status = readProc("/proc/self/status") ?? "";
      const virtual = statusBytes(status, "VmSize");
      const heap = statusBytes(status, "VmData");
      if (virtual !== undefined) proc.virtual.set(undefined, virtual);
      if (heap !== undefined) proc.heap.set(undefined, heap);
      try {
        // readdir holds one descriptor of its own while it reads.
        proc.openFds.set(undefined, readdirSync("/proc/self/fd").length - 1);
      } catch {
        // /proc/self/fd unreadable: keep the last value.
      }
      const max = maxOpenFiles(readProc("/proc/self/limits") ?? "");
      if (max !== undefined) proc.maxFds.set(undefined, max);
    }
    for (const space of getHeapSpaceStatistics()) {
      const labels = { space: space.space_name.replace(/_space$/, "") };
      spaceTotal.set(labels, space.space_size);
      spaceUsed.set(labels, space.space_used_size);
      spaceAvailable.set(labels, space.space_available_size);
    }
    const counts = new Map<string, number>();
    for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
    for (const type of resourceTypes) if (!counts.has(type)) resources.remove({ type });
    for (const [type, n] of counts) resources.set({ type }, n);
    resourceTypes = new Set(counts.keys());

    if (delay.count > 0) {
      lagStats.min.set(undefined, delay.min / 1e9);
      lagStats.max.set(undefined, delay.max / 1e9);
      lagStats.mean.set(undefined, delay.mean / 1e9);
      lagStats.stddev.set(undefined, delay.stddev / 1e9);
      lagStats.p50.set(undefined, delay.percentile(50) / 1e9);
      lagStats.p90.set(undefined, delay.percentile(90) / 1e9);
      lagStats.p99.set(undefined, delay.percentile(99) / 1e9);
    }
    delay.reset();
    const probe = process.hrtime.bigint();
    await new Promise((resolve) => setImmediate(resolve));
    lag.set(undefined, Number(process.hrtime.bigint() - probe) / 1e9);
  });

  return {
    start() {
      if (gcObserver !== undefined) return;
      delay.enable();
      gcObserver = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1];
          if (kind !== undefined) gc.observe({ kind }, entry.duration / 1000);
        }
      });
      gcObserver.observe({ entryTypes: ["gc"] });
    },
    stop() {
      delay.disable();
      gcObserver?.disconnect();
      gcObserver = undefined;
    },
  };
}
