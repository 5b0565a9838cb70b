/**
 * `npm run bench -- tunnel [--json FILE] [--rounds N] [--bytes N] [--connections N] [--parallel N]`
 *
 * tunnelkeeper's engine (`tunnelkeeper forward`) side by side with `kubectl port-forward` (built
 * from the same Kubernetes version, WebSocket tunnel, its default) in one process tree, against
 * one control plane, one KWOK pod and the same local backends. Runs alternate between the two
 * (ours first in odd rounds) and each figure is the median over rounds:
 * - single-connection throughput: one download of --bytes (default 1 GiB) from the source;
 * - new-connection latency: --connections (default 1000) sequential connect + 1-byte echo;
 * - aggregate throughput: --parallel (default 100) concurrent downloads of 16 MiB each;
 * - peak RSS of each forwarder process (VmHWM) at the end.
 * Ratios are ours / kubectl's (for latency lower is better). A script, never a test.
 */
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { createBackedPod } from "../test/cluster/pods.ts";
import { startEcho, startSource } from "./support/backends.ts";
import { download, peakRssMiB, roundTrip } from "./support/client.ts";
import { type RunningForwarder, startKubectlPortForward, startTunnelkeeperForward } from "./support/forwarders.ts";
import { percentile } from "./support/parallel.ts";

const ECHO_PORT = 8080;
const SOURCE_PORT = 8081;
const PARALLEL_BYTES = 16 * 1024 * 1024;

interface RoundFigures {
  throughputMiBps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  parallelMiBps: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(forwarder: RunningForwarder, bytes: number, connections: number, parallel: number): Promise<RoundFigures> {
  const echo = forwarder.ports.get(ECHO_PORT)!;
  const source = forwarder.ports.get(SOURCE_PORT)!;
  for (let i = 0; i < 20; i++) await roundTrip(echo); // warm-up
  const seconds = await download(source, bytes);
  const latencies: number[] = [];
  for (let i = 0; i < connections; i++) latencies.push(await roundTrip(echo));
  latencies.sort((a, b) => a - b);
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: parallel }, () => download(source, PARALLEL_BYTES)));
  const parallelSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    throughputMiBps: bytes / 1048576 / seconds,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    parallelMiBps: (parallel * PARALLEL_BYTES) / 1048576 / parallelSeconds,
  };
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "3" },
      bytes: { type: "string", default: String(1024 * 1024 * 1024) },
      connections: { type: "string", default: "1000" },
      parallel: { type: "string", default: "100" },
    },
  });
  const rounds = Number(values.rounds);
  const bytes = Number(values.bytes);
  const connections = Number(values.connections);
  const parallel = Number(values.parallel);

  const plane = await startControlPlane();
  const [echo, source] = await Promise.all([startEcho(), startSource()]);
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
      ],
    });
    const target = {
      kubeconfig: plane.state.kubeconfig,
      namespace: "bench",
      resource: "pod/backend",
      remotePorts: [ECHO_PORT, SOURCE_PORT],
    };
    const ours = await startTunnelkeeperForward(target);
    const theirs = await startKubectlPortForward(plane.state.kubectl, target);
    forwarders.push(ours, theirs);

    const results: Record<string, RoundFigures[]> = { tunnelkeeper: [], kubectl: [] };
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [ours, theirs] : [theirs, ours];
      for (const forwarder of order) {
        const figures = await measure(forwarder, bytes, connections, parallel);
        results[forwarder.name]!.push(figures);
        process.stderr.write(`[bench] round ${round} ${forwarder.name}: ${JSON.stringify(figures)}\n`);
      }
    }
    const summary = (name: string) => {
      const runs = results[name]!;
      return {
        throughputMiBps: median(runs.map((r) => r.throughputMiBps)),
        latencyP50Ms: median(runs.map((r) => r.latencyP50Ms)),
        latencyP99Ms: median(runs.map((r) => r.latencyP99Ms)),
        parallelMiBps: median(runs.map((r) => r.parallelMiBps)),
      };
    };
    const a = summary("tunnelkeeper");
    const b = summary("kubectl");
    const rss = { tunnelkeeper: await peakRssMiB(ours.pid), kubectl: await peakRssMiB(theirs.pid) };
    const report = {
      kubernetesVersion: "v1.36.3",
      rounds,
      bytes,
      connections,
      parallel,
      parallelBytesEach: PARALLEL_BYTES,
      tunnelkeeper: { ...a, peakRssMiB: rss.tunnelkeeper },
      kubectl: { ...b, peakRssMiB: rss.kubectl },
      throughputRatio: a.throughputMiBps / b.throughputMiBps,
      latencyP50Ratio: a.latencyP50Ms / b.latencyP50Ms,
      latencyP99Ratio: a.latencyP99Ms / b.latencyP99Ms,
      parallelThroughputRatio: a.parallelMiBps / b.parallelMiBps,
      rssRatio: rss.tunnelkeeper / rss.kubectl,
    };
    const row = (label: string, ours: number, theirs: number, ratio: number, unit: string) =>
      `| ${label} | ${ours.toFixed(1)} ${unit} | ${theirs.toFixed(1)} ${unit} | ${ratio.toFixed(2)}× |`;
    process.stdout.write(
      [
        `tunnel benchmark: ${rounds} alternating rounds, median per figure (Kubernetes v1.36.3, KWOK pod, 2 cores)`,
        "",
        "| figure | tunnelkeeper forward | kubectl port-forward | ratio (ours/kubectl) |",
        "|---|---|---|---|",
        row(
          `throughput, 1 connection, ${(bytes / 1073741824).toFixed(2)} GiB`,
          a.throughputMiBps,
          b.throughputMiBps,
          report.throughputRatio,
          "MiB/s",
        ),
        row(`new-connection latency p50 (${connections} sequential)`, a.latencyP50Ms, b.latencyP50Ms, report.latencyP50Ratio, "ms"),
        row(`new-connection latency p99 (${connections} sequential)`, a.latencyP99Ms, b.latencyP99Ms, report.latencyP99Ratio, "ms"),
        row(
          `aggregate throughput, ${parallel} connections × 16 MiB`,
          a.parallelMiBps,
          b.parallelMiBps,
          report.parallelThroughputRatio,
          "MiB/s",
        ),
        row("peak RSS of the forwarder process", rss.tunnelkeeper, rss.kubectl, report.rssRatio, "MiB"),
        "",
      ].join("\n"),
    );
    return report;
  } finally {
    for (const forwarder of forwarders) await forwarder.stop();
    echo.server.close();
    source.server.close();
    await plane.stop();
  }
}
