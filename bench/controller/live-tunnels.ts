/**
 * The controller benchmark's `--live-tunnels` mode (bench/controller.ts runs it): everything the
 * burst needs besides the controller, and the figures only this mode has.
 *
 * Setup: one echo server on 127.0.0.1, a KWOK ClusterPortForward sending port 8080 of every
 * benchmark pod to it, and `--gateways` gateway processes (bench-gateway-k on 127.0.0.(k+1)),
 * each with the memory, request and (with --cpu-profile DIR) CPU-profile probes preloaded.
 * During the burst: gateway RSS/CPU sampling (bench/support/process-stats.ts), a timeline every
 * TIMELINE_INTERVAL_MS (how many PortForwards are reconciled, connected, Ready; the gateways'
 * tunnels and status queue; the controller's queue), and readings (control plane, probes,
 * gateway metrics) before the creates, when all are Ready and after the settle period.
 * Afterwards `--verify` random Ready PortForwards each carry 1 KiB through their gateway port.
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import type { OperatorProcess } from "../../test/support/operator-process.ts";
import { diffCounts } from "../support/apiserver-metrics.ts";
import { type ApiServerProfile, cpuMsPerRequest, profileApiServer } from "../support/apiserver-profile.ts";
import { startEcho } from "../support/backends.ts";
import {
  clientLatencyMs,
  diffRecords,
  EMPTY_COUNTS,
  PROBE_WRITE_WAIT_MS,
  type ProbeCounts,
  type ProbeFiles,
  probeFiles,
  readProbeCounts,
} from "../support/component-requests.ts";
import { type ControlPlaneReading, cpuBetween, meanLatencyMs, readControlPlane } from "../support/control-plane-stats.ts";
import { busySelfTimeByModule, topSelfTime } from "../support/cpu-profile.ts";
import {
  figuresOf,
  forwardAllPodsTo,
  type GatewayFigures,
  gatewayFigures,
  queueFigures,
  type StartedGateway,
  startGateway,
  verifyEcho,
} from "../support/live-tunnels.ts";
import { percentile } from "../support/parallel.ts";
import type { PortForwardWatch } from "../support/portforward-watch.ts";
import { cpuSeconds, type ProcessStats, sampleProcess } from "../support/process-stats.ts";
import { parseSamples, type Sample, sumOf } from "../support/prometheus-text.ts";

const TIMELINE_INTERVAL_MS = 2_000;
const CONTROLLER_QUEUE = "portforward";

export interface LiveOptions {
  readonly gateways: number;
  readonly verify: number;
  /** Seconds of the busy phase after the settle reading (`--churn`); 0: none. */
  readonly churnSeconds: number;
  /** Extra flags for every gateway (`--gateway-arg`, repeatable). */
  readonly gatewayArgs: readonly string[];
  readonly cpuProfileDir: string | undefined;
  readonly readyTimeoutSeconds: number;
}

export interface LiveContext {
  readonly kc: KubeConfig;
  readonly kubeconfig: string;
  readonly namespace: string;
  /** The pods' container port the PortForwards target. */
  readonly podPort: number;
  /** Control-plane process ids (ControlPlaneState.pids). */
  readonly pids: Readonly<Record<string, number>>;
  readonly options: LiveOptions;
  readonly controller: OperatorProcess;
  readonly controllerProbe: ProbeFiles;
}

interface Reading {
  readonly plane: ControlPlaneReading;
  readonly probes: Record<string, ProbeCounts>;
  readonly gateways: GatewayFigures[];
  readonly controllerQueue: ReturnType<typeof queueFigures>;
  /** CPU seconds (/proc) of each gateway and of the controller so far. */
  readonly gatewayCpu: number[];
  readonly controllerCpu: number;
}

/** The busy phase's figures (LiveTunnels.churn). */
export interface Churn {
  seconds: number;
  portForwards: number;
  connectionsOpened: number;
  connectionsFailed: number;
  gatewayStatusWrites: number;
  controllerStatusWrites: number;
  statusWritesPerSecond: { gateways: number; controller: number };
  controlPlaneCpuSeconds: Record<string, number>;
  gatewayCpuSeconds: number[];
  controllerCpuSeconds: number;
}

/** A connection through a gateway port that the echo server keeps open; resolves once connected. */
function openHeld(host: string, port: number, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => undefined); // closed by the phase; a reset then is no news
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

interface TimelineRow {
  t: number;
  created: number;
  reconciled: number;
  connected: number;
  ready: number;
  tunnelsUp: number;
  gatewayStatusQueue: number;
  controllerQueue: number;
  /** Longest event-loop delay since the previous scrape (ms): the controller's, the gateways' largest. */
  controllerLoopMaxMs: number;
  gatewayLoopMaxMs: number;
  /** CPU used since the previous row, in % of one core: controller, gateways (summed), control-plane processes. */
  cpuPercent: Record<string, number>;
}

interface Verification {
  sampled: number;
  ok: number;
  failures: { name: string; host: string; port: number | null; error: string }[];
  meanMs: number;
}

const seconds = (ms: number) => Math.round(ms) / 1000;
const mib = (n: number) => Math.round(n * 10) / 10;
const perPf = (n: number, count: number) => Math.round((n / count) * 100) / 100;

function spread(values: number[]) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { p50: seconds(percentile(sorted, 0.5)), p99: seconds(percentile(sorted, 0.99)), max: seconds(sorted.at(-1) ?? 0) };
}

/** Per key, `total / count` rounded to 2 places. */
function perPortForward(record: Readonly<Record<string, number>>, count: number): Record<string, number> {
  return Object.fromEntries(Object.entries(record).map(([key, n]) => [key, perPf(n, count)]));
}

function sumValues(record: Readonly<Record<string, number>>): number {
  return Object.values(record).reduce((sum, n) => sum + n, 0);
}

export class LiveTunnels {
  readonly #context: LiveContext;
  readonly #echo: Server;
  readonly #gateways: StartedGateway[];
  readonly #gatewayProbes: ProbeFiles[];
  readonly #rssBeforeMiB: number[];
  readonly setupMs: number;
  #samplings: { stop(): ProcessStats }[] = [];
  #apiServerProfiling: { stop(): Promise<ApiServerProfile> } | undefined;
  #apiServerProfile: Promise<ApiServerProfile> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> = Promise.resolve();
  readonly #timeline: TimelineRow[] = [];
  #stopped = false;

  private constructor(context: LiveContext, echo: Server, gateways: StartedGateway[], probes: ProbeFiles[], setupMs: number) {
    this.#context = context;
    this.#echo = echo;
    this.#gateways = gateways;
    this.#gatewayProbes = probes;
    this.#rssBeforeMiB = gateways.map((g) => sampleProcess(g.pid).stop().rssMiB);
    this.setupMs = setupMs;
  }

  /** Echo server, ClusterPortForward and gateways; resolves once every gateway is ready (/readyz). */
  static async start(context: LiveContext): Promise<LiveTunnels> {
    const started = performance.now();
    const echo = await startEcho();
    await forwardAllPodsTo(context.kc, context.namespace, context.podPort, echo.port);
    const gateways: StartedGateway[] = [];
    const probes: ProbeFiles[] = [];
    try {
      for (let k = 0; k < context.options.gateways; k++) {
        const probe = probeFiles(`bench-gateway-${k}`, context.options.cpuProfileDir);
        probes.push(probe);
        gateways.push(await startGateway(context.kubeconfig, k, probe.env, context.options.gatewayArgs));
      }
    } catch (error) {
      await Promise.all(gateways.map((g) => g.process.stop()));
      echo.server.close();
      throw error;
    }
    return new LiveTunnels(context, echo.server, gateways, probes, performance.now() - started);
  }

  get hosts(): string[] {
    return this.#gateways.map((g) => g.host);
  }

  /**
   * Starts RSS/CPU sampling of the gateways and, with --cpu-profile, every component's profile
   * window (kube-apiserver's too: the control plane then runs with --profiling).
   */
  beginBurst(): void {
    this.#samplings = this.#gateways.map((g) => sampleProcess(g.pid));
    const dir = this.#context.options.cpuProfileDir;
    if (dir !== undefined) {
      for (const child of [this.#context.controller.child, ...this.#gateways.map((g) => g.process.child)]) child.kill("SIGUSR2");
      this.#apiServerProfiling = profileApiServer(this.#context.kc, dir);
    }
  }

  /** Ends the sampling and the profile window; the figures of each gateway, in order. */
  endBurst(): ProcessStats[] {
    if (this.#context.options.cpuProfileDir !== undefined) {
      for (const child of [this.#context.controller.child, ...this.#gateways.map((g) => g.process.child)]) child.kill("SIGUSR2");
    }
    this.#apiServerProfile = this.#apiServerProfiling?.stop();
    this.#apiServerProfile?.catch(() => {}); // awaited (and reported) by apiServerProfile()
    return this.#samplings.map((s) => s.stop());
  }

  /** kube-apiserver's profile of the burst window (with --cpu-profile; call after endBurst). */
  async apiServerProfile(): Promise<ApiServerProfile | undefined> {
    return await this.#apiServerProfile;
  }

  async reading(): Promise<Reading> {
    await sleep(PROBE_WRITE_WAIT_MS);
    const plane = await readControlPlane(this.#context.kc, this.#context.pids);
    const probes: Record<string, ProbeCounts> = { controller: readProbeCounts(this.#context.controllerProbe.requests) };
    this.#gateways.forEach((g, k) => {
      probes[g.process.podName] = readProbeCounts(this.#gatewayProbes[k]!.requests);
    });
    const gateways = await Promise.all(this.#gateways.map(async (g) => gatewayFigures(await g.process.metrics())));
    const controllerQueue = queueFigures(parseSamples(await this.#context.controller.metrics()), CONTROLLER_QUEUE);
    const gatewayCpu = this.#gateways.map((g) => cpuSeconds(g.pid));
    return { plane, probes, gateways, controllerQueue, gatewayCpu, controllerCpu: cpuSeconds(this.#context.controller.child.pid ?? 0) };
  }

  /** A row every TIMELINE_INTERVAL_MS from `started` until stopTimeline(). */
  startTimeline(watch: PortForwardWatch, createdAt: ReadonlyMap<string, number>, started: number): void {
    const pids: Record<string, number[]> = {
      controller: [this.#context.controller.child.pid ?? 0],
      gateways: this.#gateways.map((g) => g.pid),
      ...Object.fromEntries(Object.entries(this.#context.pids).map(([name, pid]) => [name, [pid]])),
    };
    const cpuNow = () =>
      Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, list.reduce((sum, pid) => sum + cpuSeconds(pid), 0)]));
    let last = { at: performance.now(), cpu: cpuNow() };
    const tick = async () => {
      const gatewayMetrics = await Promise.all(this.#gateways.map(async (g) => parseSamples(await g.process.metrics())));
      const gateways = gatewayMetrics.map(figuresOf);
      const controllerSamples = parseSamples(await this.#context.controller.metrics());
      const controller = queueFigures(controllerSamples, CONTROLLER_QUEUE);
      const now = { at: performance.now(), cpu: cpuNow() };
      const cpuPercent = Object.fromEntries(
        Object.entries(now.cpu).map(([name, s]) => [name, Math.round(((s - (last.cpu[name] ?? 0)) / ((now.at - last.at) / 1000)) * 100)]),
      );
      last = now;
      const loopMaxMs = (samples: readonly Sample[]) => Math.round(sumOf(samples, "nodejs_eventloop_lag_max_seconds") * 1000);
      this.#timeline.push({
        t: seconds(performance.now() - started),
        created: createdAt.size,
        reconciled: watch.reconciledAt.size,
        connected: watch.connectedAt.size,
        ready: watch.readyAt.size,
        tunnelsUp: gateways.reduce((sum, g) => sum + g.tunnelsUp, 0),
        gatewayStatusQueue: gateways.reduce((sum, g) => sum + (g.queues["gateway-status"]?.depth ?? 0), 0),
        controllerQueue: controller.depth,
        controllerLoopMaxMs: loopMaxMs(controllerSamples),
        gatewayLoopMaxMs: Math.max(0, ...gatewayMetrics.map(loopMaxMs)),
        cpuPercent,
      });
    };
    this.#timer = setInterval(() => {
      this.#tick = this.#tick.then(tick).catch((error: unknown) => {
        process.stderr.write(`[bench] timeline: ${String(error)}\n`);
      });
    }, TIMELINE_INTERVAL_MS);
  }

  async stopTimeline(): Promise<void> {
    clearInterval(this.#timer);
    await this.#tick;
  }

  /** Sends 1 KiB through the gateway port of `verify` random Ready PortForwards (gateway i % N for the i-th). */
  async verify(watch: PortForwardWatch): Promise<Verification> {
    const ready = [...watch.readyAt.keys()];
    for (let i = ready.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ready[i], ready[j]] = [ready[j] as string, ready[i] as string];
    }
    const sample = ready.slice(0, this.#context.options.verify);
    const failures: Verification["failures"] = [];
    const times: number[] = [];
    await Promise.all(
      sample.map(async (name, i) => {
        const host = this.hosts[i % this.hosts.length] as string;
        const port = watch.gatewayPorts.get(name);
        const started = performance.now();
        try {
          if (port === undefined) throw new Error("no gateway port in status");
          await verifyEcho(host, port);
          times.push(performance.now() - started);
        } catch (error) {
          failures.push({ name, host, port: port ?? null, error: error instanceof Error ? error.message : String(error) });
        }
      }),
    );
    const meanMs = times.length === 0 ? 0 : Math.round((times.reduce((a, b) => a + b, 0) / times.length) * 10) / 10;
    return { sampled: sample.length, ok: times.length, failures, meanMs };
  }

  /**
   * The busy phase (`--churn S`): every second, each Ready PortForward gets one more connection
   * through its gateway port (to gateway 0), held open until the phase ends, so every
   * PortForward's activeConnections changes every second. (Opening and closing in turn would not:
   * a closed client's session lingers for the half-close grace, KWOK never sending the pod's FIN,
   * so the count rarely moves.) Counts what the components sent and what the control plane spent.
   */
  async churn(watch: PortForwardWatch, seconds: number): Promise<Churn> {
    const ports = [...watch.readyAt.keys()].map((name) => watch.gatewayPorts.get(name)).filter((p) => p !== undefined);
    const host = this.hosts[0] as string;
    const open: Socket[] = [];
    let failed = 0;
    const before = await this.reading();
    const started = performance.now();
    for (let tick = 0; tick < seconds; tick++) {
      const tickStarted = performance.now();
      await Promise.all(
        ports.map(async (port) => {
          try {
            open.push(await openHeld(host, port));
          } catch {
            failed++;
          }
        }),
      );
      await sleep(Math.max(0, 1000 - (performance.now() - tickStarted)));
    }
    const elapsed = (performance.now() - started) / 1000;
    const after = await this.reading();
    const opened = open.length;
    for (const socket of open) socket.destroy();
    const sent = (component: string) => diffRecords(before.probes[component]?.sent ?? {}, after.probes[component]?.sent ?? {});
    const statusWrites = (component: string) => sent(component)["APPLY portforwards/status"] ?? 0;
    const gatewayWrites = this.#gateways.reduce((sum, g) => sum + statusWrites(g.process.podName), 0);
    const controllerWrites = statusWrites("controller");
    const perSecond = (n: number) => Math.round((n / elapsed) * 10) / 10;
    return {
      seconds: Math.round(elapsed * 10) / 10,
      portForwards: ports.length,
      connectionsOpened: opened,
      connectionsFailed: failed,
      gatewayStatusWrites: gatewayWrites,
      controllerStatusWrites: controllerWrites,
      statusWritesPerSecond: { gateways: perSecond(gatewayWrites), controller: perSecond(controllerWrites) },
      controlPlaneCpuSeconds: cpuBetween(before.plane, after.plane),
      gatewayCpuSeconds: after.gatewayCpu.map((s, k) => Math.round((s - (before.gatewayCpu[k] ?? 0)) * 100) / 100),
      controllerCpuSeconds: Math.round((after.controllerCpu - before.controllerCpu) * 100) / 100,
    };
  }

  /**
   * Stops the gateways (graceful: they withdraw their status entries) and the echo server, and
   * writes every component's JSON log lines to `<tmp>/tunnelkeeper-bench-<pid>-<component>.log.jsonl`.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.stopTimeline();
    await Promise.all(this.#gateways.map((g) => g.process.stop()));
    this.#echo.close();
    for (const component of [this.#context.controller, ...this.#gateways.map((g) => g.process)]) {
      const file = join(tmpdir(), `tunnelkeeper-bench-${process.pid}-${component.podName}.log.jsonl`);
      writeFileSync(file, component.logs.map((line) => JSON.stringify(line)).join("\n"));
      this.logFiles.push(file);
    }
  }

  /** Where stop() wrote the components' logs. */
  readonly logFiles: string[] = [];

  /** The profiles the probes wrote (after endBurst), summarised. */
  async profiles(): Promise<Record<string, { file: string; topSelfTime: string[]; busyByModule: string[] }>> {
    const files: [string, string | undefined][] = [
      ["controller", this.#context.controllerProbe.cpuProfile],
      ...this.#gateways.map((g, k): [string, string | undefined] => [g.process.podName, this.#gatewayProbes[k]!.cpuProfile]),
    ];
    const result: Record<string, { file: string; topSelfTime: string[]; busyByModule: string[] }> = {};
    for (const [name, file] of files) {
      if (file === undefined) continue;
      for (let waited = 0; !existsSync(file) && waited < 10_000; waited += 100) await sleep(100);
      if (!existsSync(file)) continue;
      result[name] = { file, topSelfTime: topSelfTime(file, 15), busyByModule: busySelfTimeByModule(file, 10) };
    }
    return result;
  }

  /** Memory probe of each gateway (written at exit: call after stop()). */
  gatewayMemory(): (Record<string, unknown> | undefined)[] {
    return this.#gatewayProbes.map((p) =>
      existsSync(p.memory) ? (JSON.parse(readFileSync(p.memory, "utf8")) as Record<string, unknown>) : undefined,
    );
  }

  /** The `liveTunnels` object of the result. */
  report(input: {
    count: number;
    benchCreates: number;
    watch: PortForwardWatch;
    createdAt: ReadonlyMap<string, number>;
    allReadyMs: number | undefined;
    before: Reading;
    atReady: Reading;
    settled: Reading;
    gatewayStats: ProcessStats[];
    verification: Verification;
    churn: Churn | undefined;
    profiles: Record<string, unknown>;
    apiServerProfile: ApiServerProfile | undefined;
    eventsByReason: Record<string, number>;
  }) {
    const { count, watch, createdAt, before, atReady, settled } = input;
    const names = [...createdAt.keys()];
    const at = (map: ReadonlyMap<string, number>, name: string) => map.get(name) ?? Number.NaN;
    const server = Object.fromEntries(diffCounts(before.plane.requests, atReady.plane.requests));
    const total = sumValues(server);
    const byComponent: Record<string, Record<string, number>> = {};
    const errorAnswers: Record<string, Record<string, number>> = {};
    const trailingByComponent: Record<string, Record<string, number>> = {};
    for (const component of Object.keys(atReady.probes)) {
      byComponent[component] = diffRecords(before.probes[component]?.sent ?? {}, atReady.probes[component]?.sent ?? {});
      errorAnswers[component] = diffRecords(before.probes[component]?.answers ?? {}, settled.probes[component]?.answers ?? {});
      trailingByComponent[component] = diffRecords(atReady.probes[component]?.sent ?? {}, settled.probes[component]?.sent ?? {});
    }
    const memory = this.gatewayMemory();
    return {
      gateways: this.#gateways.length,
      setupSeconds: seconds(this.setupMs),
      allReadySeconds: input.allReadyMs === undefined ? null : seconds(input.allReadyMs),
      readyCount: watch.readyAt.size,
      connectedCount: watch.connectedAt.size,
      perPortForwardSeconds: {
        createToReady: spread(names.map((n) => at(watch.readyAt, n) - at(createdAt, n))),
        createToReconciled: spread(names.map((n) => at(watch.reconciledAt, n) - at(createdAt, n))),
        // Kept for the key's sake; negative since the first status waits for the gateways' report.
        reconciledToGatewayConnected: spread(names.map((n) => at(watch.connectedAt, n) - at(watch.reconciledAt, n))),
        createToService: spread(names.map((n) => at(watch.serviceAt, n) - at(createdAt, n))),
        serviceToGatewayConnected: spread(names.map((n) => at(watch.connectedAt, n) - at(watch.serviceAt, n))),
        gatewayConnectedToReady: spread(names.map((n) => at(watch.readyAt, n) - at(watch.connectedAt, n))),
      },
      timeline: this.#timeline,
      gatewayProcesses: this.#gateways.map((g, k) => ({
        pod: g.process.podName,
        host: g.host,
        rssBeforeMiB: mib(this.#rssBeforeMiB[k] ?? 0),
        peakRssMiB: mib(input.gatewayStats[k]?.peakRssMiB ?? 0),
        sampledPeakRssMiB: mib(input.gatewayStats[k]?.sampledPeakRssMiB ?? 0),
        rssAfterMiB: mib(input.gatewayStats[k]?.rssMiB ?? 0),
        cpuSeconds: input.gatewayStats[k]?.cpuSeconds ?? 0,
        memoryAtPeak: (memory[k] as { atPeak?: unknown } | undefined)?.atPeak ?? null,
        atReady: atReady.gateways[k],
        afterSettle: settled.gateways[k],
      })),
      tunnelsUpAtReady: atReady.gateways.reduce((sum, g) => sum + g.tunnelsUp, 0),
      tunnelsUpAfterSettle: settled.gateways.reduce((sum, g) => sum + g.tunnelsUp, 0),
      controllerQueueAtReady: atReady.controllerQueue,
      apiServer: { before: before.plane.apiServer, atReady: atReady.plane.apiServer, afterSettle: settled.plane.apiServer },
      controlPlaneCpuSecondsUntilReady: cpuBetween(before.plane, atReady.plane),
      apiRequests: {
        total,
        benchCreates: input.benchCreates,
        perPortForward: perPf(total - input.benchCreates, count),
        byVerbAndResource: server,
        perPortForwardByVerbAndResource: perPortForward(server, count),
        byComponent,
        perPortForwardByComponent: Object.fromEntries(Object.entries(byComponent).map(([c, r]) => [c, perPf(sumValues(r), count)])),
        errorAnswersByComponent: errorAnswers,
        /** Request created → response headers in the component (mean over the burst; max since the process started). */
        clientLatencyMsByComponent: Object.fromEntries(
          Object.keys(atReady.probes).map((c) => [c, clientLatencyMs(before.probes[c] ?? EMPTY_COUNTS, atReady.probes[c] ?? EMPTY_COUNTS)]),
        ),
        connectionsByComponent: Object.fromEntries(Object.entries(settled.probes).map(([c, p]) => [c, p.connections])),
        throttled429: atReady.plane.throttled - before.plane.throttled,
        meanLatencyMs: meanLatencyMs(before.plane, atReady.plane),
        trailingAfterSettle: Object.fromEntries(diffCounts(atReady.plane.requests, settled.plane.requests)),
        trailingByComponent,
      },
      verification: input.verification,
      churn: input.churn ?? null,
      eventsByReason: input.eventsByReason,
      cpuProfiles: input.profiles,
      apiServerProfile:
        input.apiServerProfile === undefined
          ? null
          : {
              ...input.apiServerProfile,
              // The server counts a tunnel only when it ends: the gateways' own counts stand in.
              cpuMsPerRequest: cpuMsPerRequest(input.apiServerProfile, {
                ...server,
                "CONNECT pods/portforward": Object.values(byComponent).reduce((sum, r) => sum + (r["CONNECT pods/portforward"] ?? 0), 0),
              }),
            },
      logFiles: this.logFiles,
    };
  }
}

export type LiveReport = ReturnType<LiveTunnels["report"]>;

/** The human-readable rows of the live report. */
export function liveRows(report: LiveReport, count: number): [string, string][] {
  const p = report.perPortForwardSeconds;
  const f = (s: { p50: number; p99: number; max: number }) => `${s.p50} / ${s.p99} / ${s.max} s`;
  const api = report.apiRequests;
  const rows: [string, string][] = [
    [`echo, ClusterPortForward, ${report.gateways} gateway(s) ready (setup)`, `${report.setupSeconds} s`],
    [
      `all ${count} Ready=True (first create → last Ready)`,
      report.allReadySeconds === null ? `not within the timeout: ${report.readyCount} Ready` : `${report.allReadySeconds} s`,
    ],
    ["per PortForward create→Ready p50 / p99 / max", f(p.createToReady)],
    ["  create→Service (the controller's first reconcile)", f(p.createToService)],
    ["  Service→gateway entry connected", f(p.serviceToGatewayConnected)],
    ["  gateway entry connected→Ready=True", f(p.gatewayConnectedToReady)],
    ["  create→first controller status (reconciled)", f(p.createToReconciled)],
  ];
  for (const g of report.gatewayProcesses) {
    rows.push(
      [`${g.pod} RSS before / peak (VmHWM) / after`, `${g.rssBeforeMiB} / ${g.peakRssMiB} / ${g.rssAfterMiB} MiB`],
      [`${g.pod} CPU time (whole process, at Ready)`, `${g.cpuSeconds} s`],
      [
        `${g.pod} tunnels up at Ready / after settle`,
        `${g.atReady?.tunnelsUp} (${g.atReady?.portForwardsWithTunnel} PortForwards) / ${g.afterSettle?.tunnelsUp}`,
      ],
      [
        `${g.pod} dials / reconnects / listen errors`,
        `${JSON.stringify(g.afterSettle?.dials)} / ${g.afterSettle?.reconnects} / ${g.afterSettle?.listenErrors}`,
      ],
      [
        `${g.pod} status reports / syncs by result`,
        `${JSON.stringify(g.afterSettle?.statusReports)} / ${JSON.stringify(g.afterSettle?.syncs)}`,
      ],
      [`${g.pod} queues at Ready`, JSON.stringify(g.atReady?.queues)],
    );
  }
  const before = report.apiServer.before;
  const after = report.apiServer.atReady;
  const settled = report.apiServer.afterSettle;
  rows.push(
    ["controller queue at Ready", JSON.stringify(report.controllerQueueAtReady)],
    [
      "kube-apiserver VmRSS before / at Ready / after settle",
      `${before.rssMiB} / ${after.rssMiB} / ${settled.rssMiB} MiB (VmHWM ${settled.peakRssMiB})`,
    ],
    [
      "kube-apiserver process_resident_memory_bytes, go_goroutines before → at Ready",
      `${before.residentMemoryMiB} → ${after.residentMemoryMiB} MiB, ${before.goroutines} → ${after.goroutines}`,
    ],
    [
      "kube-apiserver long-running requests at Ready: port-forwards / watches",
      `${after.longRunning.portForwards} / ${after.longRunning.watches}`,
    ],
    ["control-plane CPU seconds, first create → all Ready", JSON.stringify(report.controlPlaneCpuSecondsUntilReady)],
    ["API requests until all Ready (server counter) / bench creates", `${api.total} / ${api.benchCreates}`],
    ["  other than the creates, per PortForward", String(api.perPortForward)],
    ...Object.entries(api.perPortForwardByVerbAndResource)
      .slice(0, 12)
      .map(([key, n]): [string, string] => [`    ${key}`, `${n} (${api.byVerbAndResource[key]})`]),
    ["  sent by component, per PortForward", JSON.stringify(api.perPortForwardByComponent)],
    ...Object.entries(api.byComponent).map(([component, r]): [string, string] => [`    ${component}`, JSON.stringify(r)]),
    ["  answers other than 2xx, by component", JSON.stringify(api.errorAnswersByComponent)],
    ["  429 (throttled) answers", String(api.throttled429)],
    ...Object.entries(api.clientLatencyMsByComponent).map(([component, r]): [string, string] => [
      `  client-side latency (mean, max ms) ${component}`,
      Object.entries(r)
        .slice(0, 6)
        .map(([key, v]) => `${key} ${v.meanMs}, ${v.maxMs}`)
        .join("; "),
    ]),
    ["  connections opened, by component", JSON.stringify(api.connectionsByComponent)],
    ["Events in the namespace by type and reason", JSON.stringify(report.eventsByReason)],
    ["  mean server latency (ms)", JSON.stringify(Object.fromEntries(Object.entries(api.meanLatencyMs).slice(0, 8)))],
    ["  trailing after settle (server counter)", JSON.stringify(api.trailingAfterSettle)],
    ["  trailing after settle by component", JSON.stringify(api.trailingByComponent)],
    [
      `echo through ${report.verification.sampled} random Ready PortForwards' gateway ports`,
      `${report.verification.ok} ok, ${report.verification.failures.length} failed (mean ${report.verification.meanMs} ms)${report.verification.failures.length === 0 ? "" : ` ${JSON.stringify(report.verification.failures.slice(0, 3))}`}`,
    ],
    ...(report.churn === null
      ? []
      : ([
          [
            `busy phase: ${report.churn.seconds} s, ${report.churn.portForwards} PortForwards' activeConnections changing every second`,
            `${report.churn.connectionsOpened} connections opened, ${report.churn.connectionsFailed} failed`,
          ],
          [
            "  status writes: gateways / controller (per second)",
            `${report.churn.gatewayStatusWrites} / ${report.churn.controllerStatusWrites} (${report.churn.statusWritesPerSecond.gateways} / ${report.churn.statusWritesPerSecond.controller})`,
          ],
          [
            "  CPU seconds: control plane, gateways, controller",
            `${JSON.stringify(report.churn.controlPlaneCpuSeconds)}, ${JSON.stringify(report.churn.gatewayCpuSeconds)}, ${report.churn.controllerCpuSeconds}`,
          ],
        ] as [string, string][])),
    ["timeline t s: created / reconciled / connected / Ready / tunnels / gw status queue / ctrl queue | loop max ms ctrl, gw | CPU %", ""],
    ...report.timeline.map((r): [string, string] => [
      `  ${r.t}`,
      `${r.created} / ${r.reconciled} / ${r.connected} / ${r.ready} / ${r.tunnelsUp} / ${r.gatewayStatusQueue} / ${r.controllerQueue} | ${r.controllerLoopMaxMs}, ${r.gatewayLoopMaxMs} | ${Object.entries(
        r.cpuPercent,
      )
        .map(([name, pct]) => `${name} ${pct}`)
        .join(", ")}`,
    ]),
  );
  for (const [name, profile] of Object.entries(
    report.cpuProfiles as Record<string, { file: string; topSelfTime: string[]; busyByModule: string[] }>,
  )) {
    rows.push([`${name} CPU profile (burst window)`, profile.file]);
    rows.push(...profile.busyByModule.map((line): [string, string] => ["  busy self time by module", line]));
    rows.push(...profile.topSelfTime.slice(0, 10).map((line): [string, string] => ["  top self time", line]));
  }
  const apiServer = report.apiServerProfile;
  if (apiServer !== null) {
    rows.push([`kube-apiserver CPU profile (burst window), ${apiServer.cpuSeconds} s`, apiServer.file]);
    rows.push(
      ...Object.entries(apiServer.byKind).map(([kind, k]): [string, string] => [
        `  ${kind}`,
        `${k.seconds} s (${Math.round(k.share * 1000) / 10} %)`,
      ]),
    );
    rows.push(
      ...Object.entries(apiServer.cpuMsPerRequest).map(([kind, r]): [string, string] => [
        `  CPU per request: ${kind}`,
        `${r.ms} ms (${r.requests} requests)`,
      ]),
    );
  }
  return rows;
}
