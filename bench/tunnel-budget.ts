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
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Tunnel } from "../src/tunnel/index.ts";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { KUBERNETES_VERSION, KWOK_VERSION } from "../test/cluster/versions.ts";
import { loadKubeConfig } from "../test/support/cluster.ts";
import { getApiServerText } from "./support/apiserver-metrics.ts";
import { startClosableEcho } from "./support/backends.ts";
import {
  cpuMillicores,
  type GoProcessSample,
  goProcessSample,
  medianSample,
  type NodeProcessSample,
  thisProcessSample,
} from "./support/component-figures.ts";
import { createEchoPods } from "./support/echo-pods.ts";
import { percentile } from "./support/parallel.ts";
import { sampleSum } from "./support/prometheus-text.ts";
import { printTable } from "./support/report.ts";
import {
  closeTunnels,
  coldConnect,
  dialerFor,
  type EchoCheck,
  gatewayTunnelSettings,
  openTunnels,
  type TunnelDialer,
  verifyEcho,
  warmConnectMs,
} from "./support/tunnel-probes.ts";

const NAMESPACE = "bench-budget";
const POD_PORT = 8080;
const LATENCY_WARMUP = 5;

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

type Figures<T> = Omit<T, "cpuSeconds"> & { cpuMillicores: number };
type ApiServerFigures = Figures<GoProcessSample> & {
  /** apiserver_longrunning_requests{resource="pods",subresource="portforward"}: tunnels as it counts them. */
  portForwardRequests: number;
  /** apiserver_current_inflight_requests: what --max-requests-inflight / --max-mutating-requests-inflight limit. */
  inflightReadOnly: number;
  inflightMutating: number;
};

/** The three processes at one point (each figure the median of the samples). */
interface Snapshot {
  /** Tunnels the benchmark holds open. */
  tunnels: number;
  /** Of those, how many were no longer open when sampled (closed while idle: keepalive timeout, network). */
  notOpen: number;
  /** Backend connections of earlier echo checks that KWOK still held, closed by the backend before settling. */
  backendConnectionsClosed: number;
  apiserver: ApiServerFigures;
  kwok: Figures<GoProcessSample>;
  client: Figures<NodeProcessSample>;
}

interface Probe {
  readonly options: Options;
  readonly kubeConfig: KubeConfig;
  readonly apiServerPid: number;
  readonly kwokPid: number;
  readonly kwokMetricsUrl: string;
  readonly closeBackendConnections: () => number;
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 200)}`);
  return body;
}

/** Settles, samples the three processes `samples` times, keeps the medians and the CPU rates. */
async function snapshot(probe: Probe, tunnels: readonly Tunnel[]): Promise<Snapshot> {
  const { options } = probe;
  const backendConnectionsClosed = probe.closeBackendConnections();
  await sleep(options.settleSeconds * 1000);
  const apiserver: (GoProcessSample & Omit<ApiServerFigures, keyof Figures<GoProcessSample>>)[] = [];
  const kwok: GoProcessSample[] = [];
  const client: NodeProcessSample[] = [];
  const at: number[] = [];
  for (let k = 0; k < options.samples; k++) {
    if (k > 0) await sleep(options.sampleIntervalSeconds * 1000);
    const [apiText, kwokText] = await Promise.all([getApiServerText(probe.kubeConfig, "/metrics"), fetchText(probe.kwokMetricsUrl)]);
    at.push(performance.now());
    client.push(thisProcessSample());
    kwok.push(goProcessSample(probe.kwokPid, kwokText));
    apiserver.push({
      ...goProcessSample(probe.apiServerPid, apiText),
      portForwardRequests: sampleSum(apiText, "apiserver_longrunning_requests", { resource: "pods", subresource: "portforward" }) ?? 0,
      inflightReadOnly: sampleSum(apiText, "apiserver_current_inflight_requests", { request_kind: "readOnly" }) ?? Number.NaN,
      inflightMutating: sampleSum(apiText, "apiserver_current_inflight_requests", { request_kind: "mutating" }) ?? Number.NaN,
    });
  }
  const window = at.at(-1)! - at[0]!;
  const figures = <T extends { cpuSeconds: number }>(samples: readonly T[]): Figures<T> => {
    const { cpuSeconds: _, ...median } = medianSample(samples);
    return { ...median, cpuMillicores: cpuMillicores(samples[0]!, samples.at(-1)!, window) } as Figures<T>;
  };
  return {
    tunnels: tunnels.length,
    notOpen: tunnels.filter((t) => t.state.kind !== "open").length,
    backendConnectionsClosed,
    apiserver: figures(apiserver) as ApiServerFigures,
    kwok: figures(kwok),
    client: figures(client),
  };
}

/** (after − before) / tunnels for every figure; `…MiB` figures become `…KiB`. */
function perTunnel(after: object, before: object, tunnels: number): Record<string, number> {
  const a = after as Record<string, number>;
  const b = before as Record<string, number>;
  return Object.fromEntries(
    Object.keys(a).map((key) => {
      const delta = (a[key]! - b[key]!) / tunnels;
      return key.endsWith("MiB") ? [`${key.slice(0, -3)}KiB`, round(delta * 1024, 3)] : [key, round(delta, 3)];
    }),
  );
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Rounds every number of a snapshot's components to `digits` decimals. */
function rounded(s: Snapshot): Snapshot {
  const r = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "number" ? round(v, 2) : v])) as T;
  return { ...s, apiserver: r(s.apiserver), kwok: r(s.kwok), client: r(s.client) };
}

interface LatencyFigures {
  samples: number;
  warm: { p50Ms: number; p99Ms: number; maxMs: number };
  cold: { p50Ms: number; p99Ms: number; maxMs: number; dialP50Ms: number; dialP99Ms: number };
  coldOverWarm: { p50: number; p99: number };
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
    const probe: Probe = {
      options,
      kubeConfig,
      apiServerPid,
      kwokPid,
      kwokMetricsUrl: `http://127.0.0.1:${plane.state.ports.kwok}/metrics`,
      closeBackendConnections: echo.closeConnections,
    };
    const dial = dialerFor(kubeConfig, NAMESPACE, settings);
    const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

    // One tunnel opened and closed first, so the baseline includes the code paths (TLS session,
    // proxy transport to KWOK) a first tunnel warms up, and the per-tunnel figures do not.
    const warmup = await openTunnels(dial, pods, 1, 1, 0);
    if (warmup.failures.length > 0) throw new Error(`the first tunnel did not open: ${warmup.failures[0]}`);
    const firstEcho = await verifyEcho(warmup.tunnels, 1, POD_PORT);
    await closeTunnels(warmup.tunnels);
    if (firstEcho.ok < 1) throw new Error(`no echo through the first tunnel: ${firstEcho.failures[0]}`);

    progress(`${options.pods} pods Ready in ${podsReadySeconds} s; baseline (settle ${options.settleSeconds} s)`);
    const baseline = await snapshot(probe, held);
    const limits = {
      apiserver: await openFilesLimit(apiServerPid),
      kwok: await openFilesLimit(kwokPid),
      client: await openFilesLimit("self"),
    };
    const warnings = fdWarnings(options.steps.at(-1)!, limits, baseline);
    for (const w of warnings) progress(`warning: ${w}`);

    const steps: unknown[] = [];
    const stepRows: Array<{ snapshot: Snapshot; perTunnel: Record<string, Record<string, number>>; opened: string; verified: EchoCheck }> =
      [];
    let limitHit: { step: number; reached: number; failures: string[] } | null = null;
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

function tableRows(
  baseline: Snapshot,
  steps: ReadonlyArray<{ snapshot: Snapshot; perTunnel: Record<string, Record<string, number>>; opened: string; verified: EchoCheck }>,
  afterClose: Snapshot,
  latency: LatencyFigures,
  limitHit: { step: number; reached: number; failures: string[] } | null,
): [string, string][] {
  const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
  const go = (s: Figures<GoProcessSample>) =>
    `RSS ${f(s.rssMiB)} MiB (/metrics ${f(s.metricsRssMiB)}), heap in use ${f(s.heapInuseMiB)} MiB (live ${f(s.heapLiveMiB)}), stacks ${f(s.stacksMiB)} MiB, ` +
    `${f(s.goroutines, 0)} goroutines, ${f(s.openFds, 0)} fds, CPU ${f(s.cpuMillicores, 0)} m`;
  const node = (s: Figures<NodeProcessSample>) =>
    `RSS ${f(s.rssMiB)} MiB, heap ${f(s.heapUsedMiB)} MiB, external ${f(s.externalMiB)} MiB, ${f(s.openFds, 0)} fds, CPU ${f(s.cpuMillicores, 0)} m`;
  const goPer = (p: Record<string, number>) =>
    `RSS ${f(p.rssKiB!)} KiB (/metrics ${f(p.metricsRssKiB!)}), heap in use ${f(p.heapInuseKiB!)} KiB (live ${f(p.heapLiveKiB!)}), stacks ${f(p.stacksKiB!)} KiB, ` +
    `${f(p.goroutines!, 2)} goroutines, ${f(p.openFds!, 2)} fds, CPU ${f(p.cpuMillicores!, 3)} m`;
  const nodePer = (p: Record<string, number>) =>
    `RSS ${f(p.rssKiB!)} KiB, heap ${f(p.heapUsedKiB!)} KiB, external ${f(p.externalKiB!)} KiB, ${f(p.openFds!, 2)} fds, CPU ${f(p.cpuMillicores!, 3)} m`;
  const block = (label: string, s: Snapshot): [string, string][] => [
    [`${label}: API server`, `${go(s.apiserver)}; ${f(s.apiserver.portForwardRequests, 0)} port-forwards in flight`],
    [`${label}: KWOK`, go(s.kwok)],
    [`${label}: client (this process)`, node(s.client)],
  ];
  const rows: [string, string][] = [...block("0 tunnels (baseline)", baseline)];
  for (const { snapshot: s, perTunnel: p, opened, verified } of steps) {
    const label = `${s.tunnels} tunnels`;
    rows.push(
      [
        `${label}: opened / echo checked / not open when sampled / backend conns KWOK kept`,
        `${opened} / ${verified.ok} of ${verified.tried} / ${s.notOpen} / ${s.backendConnectionsClosed}`,
      ],
      ...block(label, s),
      [`${label}: per tunnel, API server`, goPer(p.apiserver!)],
      [`${label}: per tunnel, KWOK`, goPer(p.kwok!)],
      [`${label}: per tunnel, client`, nodePer(p.client!)],
      [
        `${label}: API server max-inflight gauges (readOnly / mutating)`,
        `${f(s.apiserver.inflightReadOnly, 0)} / ${f(s.apiserver.inflightMutating, 0)}`,
      ],
    );
  }
  rows.push(...block("after closing all (0 tunnels)", afterClose));
  rows.push(
    [`warm connect → first echoed byte, p50 / p99 (${latency.samples})`, `${f(latency.warm.p50Ms, 2)} / ${f(latency.warm.p99Ms, 2)} ms`],
    [
      `cold open tunnel + connect → first echoed byte, p50 / p99`,
      `${f(latency.cold.p50Ms, 2)} / ${f(latency.cold.p99Ms, 2)} ms (of which dial ${f(latency.cold.dialP50Ms, 2)} / ${f(latency.cold.dialP99Ms, 2)} ms)`,
    ],
    ["cold / warm, p50 / p99", `${f(latency.coldOverWarm.p50)}× / ${f(latency.coldOverWarm.p99)}×`],
    ["limit hit", limitHit === null ? "none" : `at ${limitHit.reached} of ${limitHit.step}: ${limitHit.failures[0]}`],
  );
  return rows;
}
