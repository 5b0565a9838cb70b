/**
 * The benchmark's side of the probes preloaded into a component (memory-probe.ts,
 * request-probe.ts, optionally cpu-profile-probe.ts): their environment, and reading what
 * request-probe.ts counted.
 *
 * The probe's counts are what a component *sent*; `apiserver_request_total` counts what the
 * server *finished* (a watch or a tunnel counts when it ends), so subtracting every component's
 * sent requests from the server's counter leaves the other clients (the benchmark itself,
 * KWOK, kube-controller-manager) up to the requests still open.
 */
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compiledProbe } from "./shipped.ts";

export interface ProbeFiles {
  readonly memory: string;
  readonly requests: string;
  /** The windowed CPU profile (cpu-profile-probe.ts), when asked for. */
  readonly cpuProfile: string | undefined;
  /** Environment for startOperatorProcess: NODE_OPTIONS preloading the probes. */
  readonly env: Record<string, string>;
}

/** Files and environment of the probes for `component`; with `cpuProfileDir`, the CPU profile probe too. */
export function probeFiles(component: string, cpuProfileDir?: string): ProbeFiles {
  const base = join(tmpdir(), `tunnelkeeper-bench-${process.pid}-${component}`);
  const memory = `${base}-memory.json`;
  const requests = `${base}-requests.json`;
  const cpuProfile = cpuProfileDir === undefined ? undefined : join(resolve(cpuProfileDir), `${component}.cpuprofile`);
  const preloads = ["memory-probe.ts", "request-probe.ts", ...(cpuProfile === undefined ? [] : ["cpu-profile-probe.ts"])];
  const options = [process.env.NODE_OPTIONS ?? "", ...preloads.map((file) => `--import ${compiledProbe(file)}`)];
  return {
    memory,
    requests,
    cpuProfile,
    env: {
      NODE_OPTIONS: options.join(" ").trim(),
      TK_BENCH_MEMORY_FILE: memory,
      TK_BENCH_REQUESTS_FILE: requests,
      ...(cpuProfile === undefined ? {} : { TK_BENCH_CPU_PROFILE: cpuProfile }),
    },
  };
}

export interface ProbeCounts {
  /** "VERB resource[/subresource]" → requests sent. */
  readonly sent: Readonly<Record<string, number>>;
  /** "VERB resource[/subresource] STATUS" → answers other than 2xx/101. */
  readonly answers: Readonly<Record<string, number>>;
  /** "VERB resource[/subresource]" → answered requests, their summed and longest client-side latency (ms). */
  readonly latency: Readonly<Record<string, { count: number; sumMs: number; maxMs: number }>>;
  /** Connections opened to the API server: "undici h2", "undici http/1.1", "websocket http/1.1". */
  readonly connections: Readonly<Record<string, number>>;
}

export const EMPTY_COUNTS: ProbeCounts = { sent: {}, answers: {}, latency: {}, connections: {} };

/** Mean client-side latency (ms) per key between two readings, for keys with at least `minCount` answers. */
export function clientLatencyMs(before: ProbeCounts, after: ProbeCounts, minCount = 10): Record<string, { meanMs: number; maxMs: number }> {
  const rows: [string, { meanMs: number; maxMs: number }, number][] = [];
  for (const [key, a] of Object.entries(after.latency)) {
    const b = before.latency[key] ?? { count: 0, sumMs: 0, maxMs: 0 };
    const count = a.count - b.count;
    if (count >= minCount)
      rows.push([key, { meanMs: Math.round(((a.sumMs - b.sumMs) / count) * 10) / 10, maxMs: Math.round(a.maxMs) }, count]);
  }
  return Object.fromEntries(rows.sort((x, y) => y[2] - x[2]).map(([key, value]) => [key, value]));
}

/**
 * Wait this long before reading the probes for a reading "now": longer than their write
 * interval, so no request sent before the wait began is missing.
 */
export const PROBE_WRITE_WAIT_MS = 300;

/** The probe's counts as of its last write. */
export function readProbeCounts(file: string): ProbeCounts {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ProbeCounts) : EMPTY_COUNTS;
}

/** after − before per key, without zero rows, largest first. */
export function diffRecords(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const rows = Object.entries(after)
    .map(([key, n]): [string, number] => [key, n - (before[key] ?? 0)])
    .filter(([, n]) => n !== 0)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(rows);
}
