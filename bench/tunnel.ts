/**
 * `npm run bench -- tunnel [--json FILE] [--rounds N] [--bytes N] [--connections N] [--parallel N]
 *   [--parallel-bytes N] [--only tunnelkeeper|kubectl] [--cpu-prof-dir DIR]`
 *
 * tunnelkeeper's engine (`tunnelkeeper forward`) side by side with `kubectl port-forward` (built
 * by the harness from the same Kubernetes module, WebSocket tunnel, its default) in one process
 * tree, against one control plane, one KWOK pod and the same local backends. Each round runs
 * every phase on one forwarder, then on the other (ours first in odd rounds, kubectl first in
 * even ones); each figure is the median over rounds. Phases, in order:
 * - download, 1 connection: --bytes (default 1 GiB) from the source backend;
 * - upload, 1 connection: --bytes to the sink backend, timed until it confirms the last byte;
 * - new-connection latency: --connections (default 2000) sequential connect + 1-byte echo;
 * - download and upload, --parallel (default 100) connections × --parallel-bytes (16 MiB) each.
 * For each transfer the forwarder process's CPU time (utime + stime from /proc/<pid>/stat, 10 ms
 * ticks) is read just before and just after, so CPU seconds per GiB belong to that phase alone.
 * Peak RSS (VmHWM) is read at the end. Ratios are ours / kubectl's: for throughput higher is
 * better, for CPU per GiB, latency and RSS lower is better. The JSON keys are documented in
 * docs/benchmarks.md and stay stable. A script that prints figures, never a test.
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { createBackedPod } from "../test/cluster/pods.ts";
import { startEcho, startSink, startSource } from "./support/backends.ts";
import { download, peakRssMiB, roundTrip, upload } from "./support/client.ts";
import { type RunningForwarder, startKubectlPortForward, startTunnelkeeperForward } from "./support/forwarders.ts";
import { median, percentile } from "./support/parallel.ts";
import { cpuSeconds } from "./support/process-stats.ts";

const ECHO_PORT = 8080;
const SOURCE_PORT = 8081;
const SINK_PORT = 8082;
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const FORWARDERS = ["tunnelkeeper", "kubectl"] as const;
type ForwarderName = (typeof FORWARDERS)[number];

/** One forwarder's figures; the same keys appear per round, as medians, and as ratios. */
export interface TunnelFigures {
  downloadMiBps: number;
  downloadCpuSecondsPerGiB: number;
  uploadMiBps: number;
  uploadCpuSecondsPerGiB: number;
  parallelDownloadMiBps: number;
  parallelDownloadCpuSecondsPerGiB: number;
  parallelUploadMiBps: number;
  parallelUploadCpuSecondsPerGiB: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyP999Ms: number;
}

type FigureKey = keyof TunnelFigures;
const FIGURE_KEYS: readonly FigureKey[] = [
  "downloadMiBps",
  "downloadCpuSecondsPerGiB",
  "uploadMiBps",
  "uploadCpuSecondsPerGiB",
  "parallelDownloadMiBps",
  "parallelDownloadCpuSecondsPerGiB",
  "parallelUploadMiBps",
  "parallelUploadCpuSecondsPerGiB",
  "latencyP50Ms",
  "latencyP99Ms",
  "latencyP999Ms",
];

interface Settings {
  readonly bytes: number;
  readonly connections: number;
  readonly parallel: number;
  readonly parallelBytes: number;
}

/** Runs `transfer` and returns its throughput and the forwarder's CPU seconds per GiB moved. */
async function timedTransfer(pid: number, totalBytes: number, transfer: () => Promise<unknown>) {
  const cpuBefore = cpuSeconds(pid);
  const started = process.hrtime.bigint();
  await transfer();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(pid) - cpuBefore;
  return { MiBps: totalBytes / MiB / seconds, cpuSecondsPerGiB: cpu / (totalBytes / GiB) };
}

async function measure(forwarder: RunningForwarder, settings: Settings, latencies: number[]): Promise<TunnelFigures> {
  const echo = forwarder.ports.get(ECHO_PORT)!;
  const source = forwarder.ports.get(SOURCE_PORT)!;
  const sink = forwarder.ports.get(SINK_PORT)!;
  const { bytes, connections, parallel, parallelBytes } = settings;
  for (let i = 0; i < 20; i++) await roundTrip(echo); // warm-up
  const down = await timedTransfer(forwarder.pid, bytes, () => download(source, bytes));
  const up = await timedTransfer(forwarder.pid, bytes, () => upload(sink, bytes));
  const round: number[] = [];
  for (let i = 0; i < connections; i++) round.push(await roundTrip(echo));
  latencies.push(...round);
  round.sort((a, b) => a - b);
  const parallelTotal = parallel * parallelBytes;
  const parallelDown = await timedTransfer(forwarder.pid, parallelTotal, () =>
    Promise.all(Array.from({ length: parallel }, () => download(source, parallelBytes))),
  );
  const parallelUp = await timedTransfer(forwarder.pid, parallelTotal, () =>
    Promise.all(Array.from({ length: parallel }, () => upload(sink, parallelBytes))),
  );
  return {
    downloadMiBps: down.MiBps,
    downloadCpuSecondsPerGiB: down.cpuSecondsPerGiB,
    uploadMiBps: up.MiBps,
    uploadCpuSecondsPerGiB: up.cpuSecondsPerGiB,
    parallelDownloadMiBps: parallelDown.MiBps,
    parallelDownloadCpuSecondsPerGiB: parallelDown.cpuSecondsPerGiB,
    parallelUploadMiBps: parallelUp.MiBps,
    parallelUploadCpuSecondsPerGiB: parallelUp.cpuSecondsPerGiB,
    latencyP50Ms: percentile(round, 0.5),
    latencyP99Ms: percentile(round, 0.99),
    latencyP999Ms: percentile(round, 0.999),
  };
}

function medians(runs: readonly TunnelFigures[]): TunnelFigures {
  return Object.fromEntries(FIGURE_KEYS.map((key) => [key, median(runs.map((r) => r[key]))])) as unknown as TunnelFigures;
}

function ratios(ours: TunnelFigures, theirs: TunnelFigures): TunnelFigures {
  return Object.fromEntries(FIGURE_KEYS.map((key) => [key, ours[key] / theirs[key]])) as unknown as TunnelFigures;
}

/** Latency distribution over every connection of every round: what the tail is made of. */
function latencyHistogram(all: readonly number[]): Record<string, number> {
  const edges = [1, 2, 3, 5, 10, 20, 50, 100, 200, Number.POSITIVE_INFINITY];
  const counts: Record<string, number> = {};
  let lower = 0;
  for (const edge of edges) {
    const label = Number.isFinite(edge) ? `<${edge}ms` : `>=${lower}ms`;
    counts[label] = all.filter((v) => v >= lower && v < edge).length;
    lower = edge;
  }
  return counts;
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      bytes: { type: "string", default: String(GiB) },
      connections: { type: "string", default: "2000" },
      parallel: { type: "string", default: "100" },
      "parallel-bytes": { type: "string", default: String(16 * MiB) },
      only: { type: "string" },
      "cpu-prof-dir": { type: "string" },
    },
  });
  const rounds = Number(values.rounds);
  const settings: Settings = {
    bytes: Number(values.bytes),
    connections: Number(values.connections),
    parallel: Number(values.parallel),
    parallelBytes: Number(values["parallel-bytes"]),
  };
  const only = values.only as ForwarderName | undefined;
  if (only !== undefined && !FORWARDERS.includes(only)) throw new Error(`--only must be one of ${FORWARDERS.join(", ")}`);
  const cpuProfDir = values["cpu-prof-dir"];
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });

  const plane = await startControlPlane();
  const [echo, source, sink] = await Promise.all([startEcho(), startSource(), startSink()]);
  const forwarders: RunningForwarder[] = [];
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.state.kubeconfig);
    await createBackedPod(kubeConfig, {
      namespace: "bench",
      name: "backend",
      ports: [
        { podPort: ECHO_PORT, host: "127.0.0.1", port: echo.port },
        { podPort: SOURCE_PORT, host: "127.0.0.1", port: source.port },
        { podPort: SINK_PORT, host: "127.0.0.1", port: sink.port },
      ],
    });
    const target = {
      kubeconfig: plane.state.kubeconfig,
      namespace: "bench",
      resource: "pod/backend",
      remotePorts: [ECHO_PORT, SOURCE_PORT, SINK_PORT],
    };
    const started = new Map<ForwarderName, RunningForwarder>();
    if (only !== "kubectl") started.set("tunnelkeeper", await startTunnelkeeperForward(target, { cpuProfDir }));
    if (only !== "tunnelkeeper") started.set("kubectl", await startKubectlPortForward(plane.state.kubectl, target));
    forwarders.push(...started.values());

    const results = new Map<ForwarderName, TunnelFigures[]>([...started.keys()].map((name) => [name, []]));
    const allLatencies = new Map<ForwarderName, number[]>([...started.keys()].map((name) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? forwarders : [...forwarders].reverse();
      for (const forwarder of order) {
        const name = forwarder.name as ForwarderName;
        const figures = await measure(forwarder, settings, allLatencies.get(name)!);
        results.get(name)!.push(figures);
        process.stderr.write(`[bench] round ${round} ${name}: ${JSON.stringify(figures)}\n`);
      }
    }
    const rss = new Map<ForwarderName, number>();
    for (const [name, forwarder] of started) rss.set(name, await peakRssMiB(forwarder.pid));
    const summary = (name: ForwarderName) => {
      const runs = results.get(name);
      if (runs === undefined) return null;
      return { ...medians(runs), peakRssMiB: rss.get(name)!, latencyHistogram: latencyHistogram(allLatencies.get(name)!) };
    };
    const ours = summary("tunnelkeeper");
    const theirs = summary("kubectl");
    const report = {
      schema: 2,
      kubernetesVersion: "v1.36.3",
      rounds,
      bytes: settings.bytes,
      connections: settings.connections,
      parallel: settings.parallel,
      parallelBytesEach: settings.parallelBytes,
      tunnelkeeper: ours,
      kubectl: theirs,
      ratios: ours !== null && theirs !== null ? { ...ratios(ours, theirs), peakRssMiB: ours.peakRssMiB / theirs.peakRssMiB } : null,
      perRound: Object.fromEntries(results),
    };
    process.stdout.write(renderTable(report, settings, rounds));
    return report;
  } finally {
    for (const forwarder of forwarders) await forwarder.stop();
    echo.server.close();
    source.server.close();
    sink.server.close();
    await plane.stop();
  }
}

type Summary = (TunnelFigures & { peakRssMiB: number }) | null;

function renderTable(
  report: { tunnelkeeper: Summary; kubectl: Summary; ratios: (TunnelFigures & { peakRssMiB: number }) | null },
  settings: Settings,
  rounds: number,
): string {
  const gib = (settings.bytes / GiB).toFixed(2);
  const par = `${settings.parallel} × ${(settings.parallelBytes / MiB).toFixed(0)} MiB`;
  const rows: [string, keyof TunnelFigures | "peakRssMiB", string, number][] = [
    [`download throughput, 1 connection, ${gib} GiB`, "downloadMiBps", "MiB/s", 1],
    ["download forwarder CPU per GiB, 1 connection", "downloadCpuSecondsPerGiB", "s", 2],
    [`upload throughput, 1 connection, ${gib} GiB`, "uploadMiBps", "MiB/s", 1],
    ["upload forwarder CPU per GiB, 1 connection", "uploadCpuSecondsPerGiB", "s", 2],
    [`download throughput, ${par}`, "parallelDownloadMiBps", "MiB/s", 1],
    [`download forwarder CPU per GiB, ${settings.parallel} connections`, "parallelDownloadCpuSecondsPerGiB", "s", 2],
    [`upload throughput, ${par}`, "parallelUploadMiBps", "MiB/s", 1],
    [`upload forwarder CPU per GiB, ${settings.parallel} connections`, "parallelUploadCpuSecondsPerGiB", "s", 2],
    [`new-connection latency p50 (${settings.connections} sequential)`, "latencyP50Ms", "ms", 2],
    [`new-connection latency p99 (${settings.connections} sequential)`, "latencyP99Ms", "ms", 2],
    [`new-connection latency p99.9 (${settings.connections} sequential)`, "latencyP999Ms", "ms", 2],
    ["peak RSS of the forwarder process", "peakRssMiB", "MiB", 1],
  ];
  const cell = (s: Summary, key: keyof TunnelFigures | "peakRssMiB", unit: string, digits: number) =>
    s === null ? "–" : `${s[key].toFixed(digits)} ${unit}`;
  return [
    `tunnel benchmark: ${rounds} alternating rounds, median per figure (Kubernetes v1.36.3, KWOK pod, 2 cores)`,
    "",
    "| figure | tunnelkeeper forward | kubectl port-forward | ratio (ours/kubectl) |",
    "|---|---|---|---|",
    ...rows.map(
      ([label, key, unit, digits]) =>
        `| ${label} | ${cell(report.tunnelkeeper, key, unit, digits)} | ${cell(report.kubectl, key, unit, digits)} | ${
          report.ratios === null ? "–" : `${report.ratios[key].toFixed(2)}×`
        } |`,
    ),
    "",
  ].join("\n");
}
