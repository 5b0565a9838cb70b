/**
 * One reading of the control plane for a benchmark: the API server's memory from /proc of its
 * PID (VmRSS, VmHWM) and from its own /metrics (`process_resident_memory_bytes`,
 * `go_goroutines`), its open long-running requests (port-forward tunnels, watches), its request
 * counter and request-duration sums (so two readings give requests and mean latency by verb and
 * resource), and the CPU seconds every control-plane process has used so far.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { type RequestCounts, requestCountsIn, scrapeApiServerMetrics } from "./apiserver-metrics.ts";
import { cpuSeconds, statusKiB } from "./process-stats.ts";
import { parseSamples, select, sumOf } from "./prometheus-text.ts";

export interface ControlPlaneReading {
  readonly requests: RequestCounts;
  /** "VERB resource[/subresource]" → sum and count of apiserver_request_duration_seconds. */
  readonly durations: ReadonlyMap<string, { sum: number; count: number }>;
  /** apiserver_request_total with code 429 (max-requests-inflight; priority and fairness is off). */
  readonly throttled: number;
  readonly apiServer: {
    readonly rssMiB: number;
    readonly peakRssMiB: number;
    readonly residentMemoryMiB: number;
    readonly goroutines: number;
    /** apiserver_longrunning_requests: open port-forward tunnels (CONNECT pods/portforward), open watches, the rest. */
    readonly longRunning: { readonly portForwards: number; readonly watches: number; readonly other: number };
  };
  /** CPU seconds (user + system) since start, per control-plane process. */
  readonly cpuSeconds: Record<string, number>;
}

const MiB = 1024 * 1024;
const round1 = (n: number) => Math.round(n * 10) / 10;

function keyOf(labels: Readonly<Record<string, string>>): string {
  return `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
}

export async function readControlPlane(kc: KubeConfig, pids: Readonly<Record<string, number>>): Promise<ControlPlaneReading> {
  const text = await scrapeApiServerMetrics(kc);
  const samples = parseSamples(text);
  const durations = new Map<string, { sum: number; count: number }>();
  for (const s of samples) {
    const field =
      s.name === "apiserver_request_duration_seconds_sum"
        ? "sum"
        : s.name === "apiserver_request_duration_seconds_count"
          ? "count"
          : undefined;
    if (field === undefined) continue;
    const key = keyOf(s.labels);
    const entry = durations.get(key) ?? { sum: 0, count: 0 };
    entry[field] += s.value;
    durations.set(key, entry);
  }
  const longRunning = { portForwards: 0, watches: 0, other: 0 };
  for (const s of select(samples, "apiserver_longrunning_requests")) {
    const key = keyOf(s.labels);
    if (key === "CONNECT pods/portforward") longRunning.portForwards += s.value;
    else if (key.startsWith("WATCH ")) longRunning.watches += s.value;
    else longRunning.other += s.value;
  }
  const pid = pids["kube-apiserver"];
  const cpu: Record<string, number> = {};
  for (const [name, p] of Object.entries(pids)) cpu[name] = cpuSeconds(p);
  return {
    requests: requestCountsIn(text),
    durations,
    throttled: sumOf(samples, "apiserver_request_total", { code: "429" }),
    apiServer: {
      rssMiB: pid === undefined ? 0 : round1(statusKiB(pid, "VmRSS") / 1024),
      peakRssMiB: pid === undefined ? 0 : round1(statusKiB(pid, "VmHWM") / 1024),
      residentMemoryMiB: round1(sumOf(samples, "process_resident_memory_bytes") / MiB),
      goroutines: sumOf(samples, "go_goroutines"),
      longRunning,
    },
    cpuSeconds: cpu,
  };
}

/** Mean API server latency per key between two readings, for keys with at least `minCount` requests. */
export function meanLatencyMs(before: ControlPlaneReading, after: ControlPlaneReading, minCount = 10): Record<string, number> {
  const rows: [string, number, number][] = [];
  for (const [key, a] of after.durations) {
    const b = before.durations.get(key) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count >= minCount) rows.push([key, Math.round(((a.sum - b.sum) / count) * 10_000) / 10, count]);
  }
  return Object.fromEntries(rows.sort((x, y) => y[2] - x[2]).map(([key, ms]) => [key, ms]));
}

/** CPU seconds each process used between two readings. */
export function cpuBetween(before: ControlPlaneReading, after: ControlPlaneReading): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after.cpuSeconds).map(([name, s]) => [name, Math.round((s - (before.cpuSeconds[name] ?? 0)) * 100) / 100]),
  );
}
