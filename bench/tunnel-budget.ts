/**
 * `npm run bench -- tunnel-budget [--json FILE] [--pods N] [--steps A,B,C] [--settle-seconds S]
 *   [--samples N] [--sample-interval-seconds S] [--dial-concurrency N] [--verify N]
 *   [--latency-samples N]`
 *
 * What an IDLE tunnel costs the API server (issue #15 item 5). The gateway holds one tunnel
 * (one WebSocket to kube-apiserver, subprotocol SPDY/3.1+portforward.k8s.io, carrying a SPDY
 * session that the API server relays to the kubelet) per PortForward × ready target pod ×
 * gateway replica; this measures what holding N of them costs, to size a tunnel budget.
 *
 * Setup: a control plane of its own, one local TCP echo backend, --pods (100) KWOK pods that
 * one KWOK ClusterPortForward maps to the backend. Tunnels are opened from this process with
 * the project's `openTunnel` and the settings a default PortForward gets (Auto, keepalive every
 * 10 s), --dial-concurrency (20) at a time, spread round-robin over the pods, in cumulative
 * steps (--steps 100,1000,3000). After each step --verify (20) tunnels spread over all open ones
 * echo 64 bytes each; the tunnels then stay idle (keepalive only).
 *
 * Measured at 0 tunnels (baseline), after each step, and after closing them all: wait
 * --settle-seconds (10), take --samples (3) samples --sample-interval-seconds (5) apart, keep
 * each figure's median. Per process: kube-apiserver and KWOK (VmRSS; from /metrics
 * process_resident_memory_bytes, go_goroutines, go_memstats_heap_inuse_bytes, goroutine
 * stacks; open fds; CPU over the sampling window, which spans one keepalive period by default)
 * and this process, the client (VmRSS, V8 heap after a full GC, external memory, fds, CPU).
 * The API server's port-forward requests in flight (apiserver_longrunning_requests) and its
 * max-inflight gauges show that tunnels are long-running requests, outside that limit.
 * Per-tunnel figures are (step − baseline) / tunnels. KWOK stands in for the kubelet: a real
 * kubelet's (or container runtime's) per-tunnel cost is not measured here.
 *
 * Then, with the idle tunnels closed, --latency-samples (100) pairs of: warm (a new stream pair
 * on an open tunnel → first echoed byte) and cold (open a tunnel, then its first connection's
 * first echoed byte; the tunnel is closed after). JSON keys are documented in
 * docs/benchmarks.md and stay stable (`schema`). A script that prints figures, never a test.
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Tunnel } from "../src/tunnel/index.ts";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { KUBERNETES_VERSION, KWOK_VERSION } from "../test/cluster/versions.ts";
import { loadKubeConfig } from "../test/support/cluster.ts";
import { startClosableEcho } from "./support/backends.ts";
import { perTunnel, round, rounded, type Snapshot, type SnapshotProbe, snapshot } from "./support/budget-snapshot.ts";
import { type LatencyFigures, type LimitHit, type StepRow, tableRows } from "./support/budget-table.ts";
import { createEchoPods } from "./support/echo-pods.ts";
import { percentile } from "./support/parallel.ts";
import { printTable } from "./support/report.ts";
import {
  closeTunnels,
  coldConnect,
  dialerFor,
  gatewayTunnelSettings,
  openTunnels,
  type TunnelDialer,
  verifyEcho,
  warmConnectMs,
} from "./support/tunnel-probes.ts";

const NAMESPACE = "bench-budget";
const POD_PORT = 8080;
const LATENCY_WARMUP = 5;

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

interface Options {
  readonly pods: number;
  readonly steps: readonly number[];
  readonly settleSeconds: number;
  readonly samples: number;
  readonly sampleIntervalSeconds: number;
  readonly dialConcurrency: number;
  readonly verifyPerStep: number;
  readonly latencySamples: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      pods: { type: "string", default: "100" },
      steps: { type: "string", default: "100,1000,3000" },
      "settle-seconds": { type: "string", default: "10" },
      samples: { type: "string", default: "3" },
      "sample-interval-seconds": { type: "string", default: "5" },
      "dial-concurrency": { type: "string", default: "20" },
      verify: { type: "string", default: "20" },
      "latency-samples": { type: "string", default: "100" },
    },
  });
  const integer = (flag: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} needs an integer ≥ ${min}, got ${text}`);
    return n;
  };
  const steps = values.steps.split(",").map((s) => integer("steps", s.trim(), 1));
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) throw new Error("--steps must be ascending tunnel counts, e.g. 100,1000,3000");
  return {
    pods: integer("pods", values.pods, 1),
    steps,
    settleSeconds: integer("settle-seconds", values["settle-seconds"], 0),
    samples: integer("samples", values.samples, 2),
    sampleIntervalSeconds: integer("sample-interval-seconds", values["sample-interval-seconds"], 1),
    dialConcurrency: integer("dial-concurrency", values["dial-concurrency"], 1),
    verifyPerStep: integer("verify", values.verify, 0),
    latencySamples: integer("latency-samples", values["latency-samples"], 1),
  };
}

/** Alternates warm and cold connections (so drift in the machine's load hits both alike). */
async function measureLatency(dial: TunnelDialer, pods: readonly string[], samples: number): Promise<LatencyFigures> {
  const open = await dial(pods[0]!);
  const warm: number[] = [];
  const cold: number[] = [];
  const coldDial: number[] = [];
  try {
    for (let i = 0; i < LATENCY_WARMUP + samples; i++) {
      const w = await warmConnectMs(open, POD_PORT);
      const c = await coldConnect(dial, pods[(i + 1) % pods.length]!, POD_PORT);
      if (i < LATENCY_WARMUP) continue;
      warm.push(w);
      cold.push(c.firstByteMs);
      coldDial.push(c.dialMs);
    }
  } finally {
    await closeTunnels([open]);
  }
  for (const list of [warm, cold, coldDial]) list.sort((a, b) => a - b);
  const ms = (sorted: readonly number[], q: number) => round(percentile(sorted, q), 2);
  return {
    samples,
    warm: { p50Ms: ms(warm, 0.5), p99Ms: ms(warm, 0.99), maxMs: ms(warm, 1) },
    cold: { p50Ms: ms(cold, 0.5), p99Ms: ms(cold, 0.99), maxMs: ms(cold, 1), dialP50Ms: ms(coldDial, 0.5), dialP99Ms: ms(coldDial, 0.99) },
    coldOverWarm: {
      p50: round(percentile(cold, 0.5) / percentile(warm, 0.5), 1),
      p99: round(percentile(cold, 0.99) / percentile(warm, 0.99), 1),
    },
  };
}

/** Soft "Max open files" of a process, from /proc/PID/limits. */
async function openFilesLimit(pid: number | "self"): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(await readFile(`/proc/${pid}/limits`, "utf8"));
  return match === null || match[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/**
 * File descriptors the largest step needs, against each process's limit: per tunnel the client
 * holds one socket, the API server two (client side and kubelet side), KWOK one. Nothing here
 * raises a limit; a step that would not fit is named before it runs.
 */
function fdWarnings(maxTunnels: number, limits: Record<"apiserver" | "kwok" | "client", number>, base: Snapshot): string[] {
  const need = {
    apiserver: base.apiserver.openFds + 2 * maxTunnels,
    kwok: base.kwok.openFds + maxTunnels,
    client: base.client.openFds + maxTunnels,
  };
  return (Object.keys(need) as (keyof typeof need)[])
    .filter((who) => need[who] > limits[who] * 0.95)
    .map((who) => `${who} needs about ${need[who]} open files at ${maxTunnels} tunnels; its limit is ${limits[who]}`);
}

/**
 * One tunnel opened, checked and closed before the baseline, so the baseline includes what a
 * first tunnel warms up (TLS session, the API server's proxy transport to KWOK) and the
 * per-tunnel figures do not. A function of its own so no reference to it outlives it.
 */
async function checkFirstTunnel(dial: TunnelDialer, pods: readonly string[]): Promise<void> {
  const first = await openTunnels(dial, pods, 1, 1, 0);
  if (first.failures.length > 0) throw new Error(`the first tunnel did not open: ${first.failures[0]}`);
  const echo = await verifyEcho(first.tunnels, 1, POD_PORT);
  await closeTunnels(first.tunnels);
  if (echo.ok < 1) throw new Error(`no echo through the first tunnel: ${echo.failures[0]}`);
}

/**
 * Opens the steps' tunnels into `held` and measures each step. A function of its own: once it
 * returns, only `held` refers to the tunnels, so closing them lets the client's figures after
 * close show what is really released (a live frame could keep the last step's list reachable).
 */
async function runSteps(
  options: Options,
  probe: SnapshotProbe,
  dial: TunnelDialer,
  pods: readonly string[],
  held: Tunnel[],
  baseline: Snapshot,
): Promise<{ steps: unknown[]; stepRows: StepRow[]; limitHit: LimitHit | null }> {
  const steps: unknown[] = [];
  const stepRows: StepRow[] = [];
  let limitHit: LimitHit | null = null;
  for (const target of options.steps) {
    const opened = await openTunnels(dial, pods, target - held.length, options.dialConcurrency, held.length);
    held.push(...opened.tunnels);
    const rate = round(opened.tunnels.length / opened.seconds, 0);
    progress(`${held.length} tunnels open (+${opened.tunnels.length} in ${round(opened.seconds, 1)} s, ${rate}/s)`);
    if (opened.failures.length > 0) {
      limitHit = { step: target, reached: held.length, failures: opened.failures.slice(0, 5) };
      progress(`dialling stopped at ${held.length} of ${target}: ${opened.failures[0]}`);
    }
    const verified = await verifyEcho(held, options.verifyPerStep, POD_PORT);
    if (verified.ok < verified.tried)
      progress(`echo failed on ${verified.tried - verified.ok} of ${verified.tried}: ${verified.failures[0]}`);
    const at = await snapshot(probe, held);
    const per = {
      apiserver: perTunnel(at.apiserver, baseline.apiserver, at.tunnels),
      kwok: perTunnel(at.kwok, baseline.kwok, at.tunnels),
      client: perTunnel(at.client, baseline.client, at.tunnels),
    };
    steps.push({
      ...rounded(at),
      target,
      openedInStep: opened.tunnels.length,
      openSeconds: round(opened.seconds, 2),
      dialP50Ms: round(percentile(opened.dialMs, 0.5), 1),
      dialP99Ms: round(percentile(opened.dialMs, 0.99), 1),
      verified,
      perTunnel: per,
    });
    stepRows.push({
      snapshot: at,
      perTunnel: per,
      opened: `+${opened.tunnels.length} in ${round(opened.seconds, 1)} s (${rate}/s)`,
      verified,
    });
    progress(`${held.length} tunnels: API server ${round(at.apiserver.rssMiB, 1)} MiB, ${at.apiserver.goroutines} goroutines`);
    if (limitHit !== null) break;
  }
  return { steps, stepRows, limitHit };
}

export async function run(argv: string[]): Promise<unknown> {
  const options = parseOptions(argv);
  const settings = gatewayTunnelSettings();
  const loadAtStart = loadavg().map((n) => round(n, 2));
  const t0 = performance.now();
  const plane = await startControlPlane();
  const echo = await startClosableEcho();
  const held: Tunnel[] = [];
  try {
    const controlPlaneSeconds = round((performance.now() - t0) / 1000, 1);
    const kubeConfig = loadKubeConfig(plane.state.kubeconfig);
    const podsStarted = performance.now();
    const pods = await createEchoPods(kubeConfig, {
      namespace: NAMESPACE,
      count: options.pods,
      podPort: POD_PORT,
      backendPort: echo.port,
      createConcurrency: 20,
    });
    const podsReadySeconds = round((performance.now() - podsStarted) / 1000, 1);
    const apiServerPid = plane.state.pids["kube-apiserver"];
    const kwokPid = plane.state.pids.kwok;
    if (apiServerPid === undefined || kwokPid === undefined) throw new Error("the control plane reports no kube-apiserver or kwok pid");
    const probe: SnapshotProbe = {
      sampling: options,
      kubeConfig,
      apiServerPid,
      kwokPid,
      kwokMetricsUrl: `http://127.0.0.1:${plane.state.ports.kwok}/metrics`,
      closeBackendConnections: echo.closeConnections,
    };
    const dial = dialerFor(kubeConfig, NAMESPACE, settings);

    await checkFirstTunnel(dial, pods);

    progress(`${options.pods} pods Ready in ${podsReadySeconds} s; baseline (settle ${options.settleSeconds} s)`);
    const baseline = await snapshot(probe, held);
    const limits = {
      apiserver: await openFilesLimit(apiServerPid),
      kwok: await openFilesLimit(kwokPid),
      client: await openFilesLimit("self"),
    };
    const warnings = fdWarnings(options.steps.at(-1)!, limits, baseline);
    for (const w of warnings) progress(`warning: ${w}`);

    const { steps, stepRows, limitHit } = await runSteps(options, probe, dial, pods, held, baseline);

    await closeTunnels(held.splice(0));
    progress("idle tunnels closed; after-close sample, then latency");
    const afterClose = await snapshot(probe, held);
    const latency = await measureLatency(dial, pods, options.latencySamples);

    const result = {
      schema: 1,
      kubernetesVersion: KUBERNETES_VERSION,
      kwokVersion: KWOK_VERSION,
      options,
      tunnelSettings: { protocol: settings.protocol, keepaliveIntervalMs: settings.keepaliveIntervalMs },
      machine: {
        cpus: availableParallelism(),
        node: process.version,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadavg().map((n) => round(n, 2)),
      },
      setup: { controlPlaneSeconds, podsReadySeconds },
      limits: { openFiles: limits, warnings },
      baseline: rounded(baseline),
      steps,
      afterClose: rounded(afterClose),
      latency,
      limitHit,
    };
    printTable(
      `tunnel budget: idle tunnels over ${options.pods} KWOK pods (Kubernetes ${KUBERNETES_VERSION}, ${result.machine.cpus} CPUs, ` +
        `keepalive ${settings.keepaliveIntervalMs / 1000} s; medians of ${options.samples} samples after ${options.settleSeconds} s)`,
      tableRows(baseline, stepRows, afterClose, latency, limitHit),
    );
    return result;
  } finally {
    await closeTunnels(held);
    echo.closeConnections();
    echo.server.close();
    await plane.stop();
  }
}
