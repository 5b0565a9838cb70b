/**
 * Controller benchmark: how long one `tunnelkeeper controller` process takes to reconcile a
 * burst of PortForwards created at once, its peak memory and CPU, and the API requests made.
 *
 *   npm run bench -- controller [--count 1000] [--pods N] [--create-concurrency 50] [--json FILE]
 *       [--live-tunnels] [--gateways N] [--verify 20] [--ready-timeout 600] [--cpu-profile DIR]
 *       [--churn SECONDS] [--gateway-arg FLAG]...
 *
 * Setup (timed separately, not part of the figure): its own control plane, the CRD, and `--pods`
 * KWOK pods (default one per PortForward: each PortForward targets its own pod, as when every
 * developer forwards to their own pod; `--pods 10` shares a few pods among all). Then the
 * controller starts (all namespaces, no leader election) and, once its caches are synced, the
 * PortForwards are created as fast as `--create-concurrency` POSTs in flight allow.
 *
 * "Reconciled" means: the PortForward's Service exists and its status has `observedGeneration`
 * equal to its generation with a Ready condition (also reported: when every status says
 * ServiceReady=True, i.e. the controller has caught up). Both are observed through watches, so the
 * benchmark's own requests are the creates plus a few lists and watches.
 *
 * API requests: the difference of the API server's `apiserver_request_total` before the creates
 * and when the last PortForward was reconciled, by verb and resource. That counter has no user
 * label, so it counts every client (the benchmark's creates are listed as such; KCM and KWOK add
 * a little background). A second reading after a settle period shows any trailing writes.
 *
 * `--live-tunnels` (or `--gateways N` with N ≥ 1; `--live-tunnels` alone means one gateway):
 * gateways run next to the controller and every pod forwards to a local echo server, so the
 * PortForwards become Ready=True (a gateway reports a live tunnel: controller/plan.ts). The
 * figure is then the time from the first create until all are Ready=True (give up after
 * `--ready-timeout` seconds and report how many were), per-PortForward latencies by stage, the
 * gateways' memory, CPU and tunnels, the API server's memory, API requests by component, and
 * an echo through `--verify` random PortForwards; bench/controller/live-tunnels.ts has the
 * details. The old keys and rows stay; in this mode the controller is sampled until all are
 * Ready, and `apiRequests.trailingAfterSettle` counts from all Ready to the settle reading.
 * `--cpu-profile DIR` writes a CPU profile of the burst window (first create → all Ready) of
 * the controller and each gateway to DIR and prints their top functions (and kube-apiserver's).
 * `--churn S` adds a busy phase after the settle reading: for S seconds every Ready
 * PortForward's activeConnections changes every second (one more connection held open each
 * second: keep S × PortForwards × 2 under the file limit), and the status writes it causes and
 * the control plane's CPU are reported; `--gateway-arg
 * FLAG` passes a flag to every gateway (e.g. `--gateway-arg --counter-writes-per-second=1000`).
 *
 * A script, not a test: it reports figures and never fails on them.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, KIND, PLURAL } from "../src/api/identity.ts";
import { COUNTER_REPORT_INTERVAL_MS } from "../src/gateway/gateway-status.ts";
import { kubeRequest, resourcePath } from "../src/kube/request.ts";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { ensureNamespace } from "../test/cluster/pods.ts";
import { loadKubeConfig } from "../test/support/cluster.ts";
import { installCrd } from "../test/support/operator-process.ts";
import { type LiveOptions, LiveTunnels, liveRows } from "./controller/live-tunnels.ts";
import { diffCounts, scrapeRequestCounts } from "./support/apiserver-metrics.ts";
import { type ProbeFiles, probeFiles } from "./support/component-requests.ts";
import { startInstalledOperator } from "./support/installed-operator.ts";
import { eventsByReason } from "./support/live-tunnels.ts";
import { inParallel, percentile } from "./support/parallel.ts";
import { watchPortForwards } from "./support/portforward-watch.ts";
import { sampleProcess } from "./support/process-stats.ts";
import { printTable } from "./support/report.ts";
import { compiledProbe } from "./support/shipped.ts";

const NAMESPACE = "bench";
const SETTLE_MS = 5_000;
/** With gateways: two of their counter-only status write intervals, so the trailing writes are in. */
const LIVE_SETTLE_MS = 2 * COUNTER_REPORT_INTERVAL_MS;
const POD_PORT = 8080;

interface Options {
  count: number;
  pods: number;
  createConcurrency: number;
}

function parseOptions(args: readonly string[]): { options: Options; live: LiveOptions | undefined } {
  const value = (flag: string, fallback: number, min = 1) => {
    const index = args.indexOf(flag);
    if (index < 0) return fallback;
    const n = Number(args[index + 1]);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer ≥ ${min}`);
    return n;
  };
  const count = value("--count", 1000);
  const options = { count, pods: Math.min(value("--pods", count), count), createConcurrency: value("--create-concurrency", 50) };
  const gateways = value("--gateways", args.includes("--live-tunnels") ? 1 : 0, 0);
  const profileIndex = args.indexOf("--cpu-profile");
  const cpuProfileDir = profileIndex < 0 ? undefined : args[profileIndex + 1];
  if (profileIndex >= 0 && (cpuProfileDir === undefined || cpuProfileDir.startsWith("--"))) throw new Error("--cpu-profile needs a folder");
  const gatewayArgs = args.flatMap((arg, i) => (arg === "--gateway-arg" && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
  const live =
    gateways === 0
      ? undefined
      : {
          gateways,
          verify: value("--verify", 20, 0),
          cpuProfileDir,
          readyTimeoutSeconds: value("--ready-timeout", 600),
          churnSeconds: value("--churn", 0, 0),
          gatewayArgs,
        };
  return { options, live };
}

/** Resolves `promise`'s value, or undefined once `deadline` (performance.now()) has passed. */
async function until<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  if (deadline === Number.POSITIVE_INFINITY) return promise;
  const timeout = new AbortController();
  try {
    return await Promise.race([promise, sleep(Math.max(0, deadline - performance.now()), undefined, { signal: timeout.signal })]);
  } finally {
    timeout.abort();
  }
}

async function createPods(kc: KubeConfig, count: number, concurrency: number): Promise<void> {
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    (i) =>
      kubeRequest(kc, {
        method: "POST",
        path: resourcePath({ apiVersion: "v1", plural: "pods", namespace: NAMESPACE }),
        body: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: `app-${i}`, labels: { app: "bench" } },
          spec: {
            nodeName: "kwok-node-0",
            tolerations: [{ operator: "Exists" }],
            containers: [{ name: "app", image: "tunnelkeeper.test/backend:1", ports: [{ name: "http", containerPort: 8080 }] }],
          },
        },
      }),
  );
}

async function waitPodsReady(kc: KubeConfig, count: number): Promise<void> {
  for (;;) {
    const list = (await kubeRequest(kc, {
      method: "GET",
      path: resourcePath({ apiVersion: "v1", plural: "pods", namespace: NAMESPACE }),
    })) as {
      items: { status?: { conditions?: { type: string; status: string }[] } }[];
    };
    const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
    if (ready >= count) return;
    await sleep(500);
  }
}

function reconcileCounts(metrics: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const m of metrics.matchAll(/^controller_runtime_reconcile_total\{controller="portforward",result="([a-z_]+)"\} (\d+)$/gm)) {
    result[m[1] as string] = Number(m[2]);
  }
  const errors = /^controller_runtime_reconcile_errors_total\{controller="portforward"\} (\d+)$/m.exec(metrics);
  if (errors) result.errors = Number(errors[1]);
  return result;
}

const seconds = (ms: number) => Math.round(ms) / 1000;
const mib = (n: number) => Math.round(n * 10) / 10;

export async function run(args: string[]): Promise<unknown> {
  const { options, live: liveOptions } = parseOptions(args);
  if (liveOptions?.cpuProfileDir !== undefined) mkdirSync(liveOptions.cpuProfileDir, { recursive: true });
  const t0 = performance.now();
  const plane = await startControlPlane({ profiling: liveOptions?.cpuProfileDir !== undefined });
  let controller: Awaited<ReturnType<typeof startInstalledOperator>> | undefined;
  let live: LiveTunnels | undefined;
  try {
    const kc = loadKubeConfig(plane.state.kubeconfig);
    const cluster = { state: plane.state, admin: kc, unprivileged: kc, kubectl: plane.state.kubectl };
    await installCrd(cluster);
    await ensureNamespace(kc, NAMESPACE);
    const controlPlaneMs = performance.now() - t0;

    const podsStarted = performance.now();
    await createPods(kc, options.pods, options.createConcurrency);
    const podsCreatedMs = performance.now() - podsStarted;
    await waitPodsReady(kc, options.pods);
    const podsReadyMs = performance.now() - podsStarted;
    process.stderr.write(`[bench] ${options.pods} pods created in ${seconds(podsCreatedMs)} s, Ready in ${seconds(podsReadyMs)} s\n`);

    const controllerStarted = performance.now();
    // The memory probe (bench/support/memory-probe.ts) splits the controller's peak RSS into
    // JavaScript heap, ArrayBuffers and the rest; it is preloaded through NODE_OPTIONS. With
    // gateways, the request probe (and the CPU profile probe) come too (component-requests.ts).
    const memoryFile = join(tmpdir(), `tunnelkeeper-controller-memory-${process.pid}.json`);
    const controllerProbe: ProbeFiles | undefined =
      liveOptions === undefined ? undefined : probeFiles("controller", liveOptions.cpuProfileDir);
    const env = controllerProbe?.env ?? {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${compiledProbe("memory-probe.ts")}`.trim(),
      TK_BENCH_MEMORY_FILE: memoryFile,
    };
    controller = await startInstalledOperator({ command: "controller", kubeconfig: plane.state.kubeconfig, env });
    const controllerReadyMs = performance.now() - controllerStarted;
    const pid = controller.child.pid;
    if (pid === undefined) throw new Error("the controller process has no pid");
    if (liveOptions !== undefined && controllerProbe !== undefined) {
      live = await LiveTunnels.start({
        kc,
        kubeconfig: plane.state.kubeconfig,
        namespace: NAMESPACE,
        podPort: POD_PORT,
        pids: plane.state.pids,
        options: liveOptions,
        controller,
        controllerProbe,
      });
      process.stderr.write(`[bench] echo, ClusterPortForward and ${liveOptions.gateways} gateway(s) ready in ${seconds(live.setupMs)} s\n`);
    }
    const rssBeforeMiB = sampleProcess(pid).stop().rssMiB;
    const memoryLimitBytes = controller.memoryLimitBytes;
    const sampling = sampleProcess(pid);

    const names = Array.from({ length: options.count }, (_, i) => `pf-${i}`);
    const watcher = watchPortForwards(kc, NAMESPACE, names);
    await watcher.synced;
    await sleep(200); // let the watches open before the first create
    const before = await scrapeRequestCounts(kc);
    const liveBefore = await live?.reading();
    const createdAt = new Map<string, number>();
    live?.beginBurst();
    const started = performance.now();
    // Without gateways nothing can hang on a gateway, so the old mode waits as long as it takes.
    const deadline = liveOptions === undefined ? Number.POSITIVE_INFINITY : started + liveOptions.readyTimeoutSeconds * 1000;
    live?.startTimeline(watcher, createdAt, started);
    await inParallel(names, options.createConcurrency, async (name) => {
      const i = Number(name.slice(3));
      await kubeRequest(kc, {
        method: "POST",
        path: resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace: NAMESPACE }),
        body: {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name },
          spec: { target: { pod: `app-${i % options.pods}` }, ports: [{ port: 80, targetPort: "http" }] },
        },
      });
      createdAt.set(name, performance.now());
    });
    const createdMs = performance.now() - started;
    process.stderr.write(`[bench] ${options.count} PortForwards created in ${seconds(createdMs)} s; waiting for reconciles\n`);
    const elapsed = (done: unknown) => (done === undefined ? null : performance.now() - started);
    const reconciledMs = elapsed(
      await until(
        watcher.done.then(() => true),
        deadline,
      ),
    );
    const atDone = await scrapeRequestCounts(kc);
    const serviceReadyMs = elapsed(
      await until(
        watcher.serviceReady.then(() => true),
        deadline,
      ),
    );
    let allReadyMs: number | null = null;
    if (live !== undefined) {
      process.stderr.write(`[bench] all reconciled in ${seconds(reconciledMs ?? Number.NaN)} s; waiting for Ready=True\n`);
      allReadyMs = elapsed(
        await until(
          watcher.ready.then(() => true),
          deadline,
        ),
      );
    }
    const stats = sampling.stop();
    const gatewayStats = live?.endBurst() ?? [];
    await live?.stopTimeline();
    const atReady = live === undefined ? atDone : await scrapeRequestCounts(kc);
    const liveAtReady = await live?.reading();
    const verification = await live?.verify(watcher);
    await sleep(live === undefined ? SETTLE_MS : LIVE_SETTLE_MS);
    const settled = await scrapeRequestCounts(kc);
    const liveSettled = await live?.reading();
    const churn =
      liveOptions !== undefined && liveOptions.churnSeconds > 0 ? await live?.churn(watcher, liveOptions.churnSeconds) : undefined;
    const events = live === undefined ? {} : await eventsByReason(kc, NAMESPACE);
    watcher.stop();
    const reconciles = reconcileCounts(await controller.metrics());
    await controller.stop();
    controller = undefined;
    await live?.stop();
    const profiles = (await live?.profiles()) ?? {};
    const apiServerProfile = await live?.apiServerProfile();
    const memory = JSON.parse(readFileSync(controllerProbe?.memory ?? memoryFile, "utf8")) as {
      atStart: Record<string, number>;
      atPeak: Record<string, number>;
      heapSpacesAtPeakMiB: Record<string, number>;
    };

    const latencies = names.map((n) => (watcher.reconciledAt.get(n) ?? 0) - (createdAt.get(n) ?? 0)).sort((a, b) => a - b);
    const requests = diffCounts(before, atDone);
    const trailing = diffCounts(atReady, settled);
    const total = requests.reduce((sum, [, n]) => sum + n, 0);
    const benchCreates = requests.find(([key]) => key === `POST ${PLURAL}`)?.[1] ?? 0;

    const result = {
      options: liveOptions === undefined ? options : { ...options, ...liveOptions },
      machine: { cpus: availableParallelism(), node: process.version },
      setup: {
        controlPlaneSeconds: seconds(controlPlaneMs),
        podsCreatedSeconds: seconds(podsCreatedMs),
        podsReadySeconds: seconds(podsReadyMs),
        controllerReadySeconds: seconds(controllerReadyMs),
      },
      portForwards: {
        createdSeconds: seconds(createdMs),
        allReconciledSeconds: reconciledMs === null ? null : seconds(reconciledMs),
        allServiceReadySeconds: serviceReadyMs === null ? null : seconds(serviceReadyMs),
        perPortForwardSeconds: {
          p50: seconds(percentile(latencies, 0.5)),
          p95: seconds(percentile(latencies, 0.95)),
          max: seconds(latencies.at(-1) ?? 0),
        },
      },
      controller: {
        /** The chart's memory limit it ran under (a cgroup, bench/support/memory-limit.ts); null: none. */
        memoryLimitMiB: memoryLimitBytes === null ? null : memoryLimitBytes / 2 ** 20,
        rssBeforeMiB: mib(rssBeforeMiB),
        peakRssMiB: mib(stats.peakRssMiB),
        sampledPeakRssMiB: mib(stats.sampledPeakRssMiB),
        rssAfterMiB: mib(stats.rssMiB),
        cpuSeconds: stats.cpuSeconds,
        reconciles,
        /** process.memoryUsage() (MiB) once started, and at the highest RSS sampled (100 ms). */
        memoryAtStart: memory.atStart,
        memoryAtPeak: memory.atPeak,
        heapSpacesAtPeakMiB: memory.heapSpacesAtPeakMiB,
      },
      apiRequests: {
        total,
        benchCreates,
        othersTotal: total - benchCreates,
        perPortForward: Math.round(((total - benchCreates) / options.count) * 100) / 100,
        byVerbAndResource: Object.fromEntries(requests),
        trailingAfterSettle: Object.fromEntries(trailing),
      },
      ...(live === undefined || liveBefore === undefined || liveAtReady === undefined || liveSettled === undefined
        ? {}
        : {
            liveTunnels: live.report({
              count: options.count,
              benchCreates,
              watch: watcher,
              createdAt,
              allReadyMs: allReadyMs ?? undefined,
              before: liveBefore,
              atReady: liveAtReady,
              settled: liveSettled,
              gatewayStats,
              verification: verification ?? { sampled: 0, ok: 0, failures: [], meanMs: 0 },
              churn,
              profiles,
              apiServerProfile,
              eventsByReason: events,
            }),
          }),
    };

    printTable(`controller: ${options.count} PortForwards created at once (${options.pods} target pods), ${result.machine.cpus} CPUs`, [
      ["control plane start", `${result.setup.controlPlaneSeconds} s`],
      [`${options.pods} pods created / Ready (setup)`, `${result.setup.podsCreatedSeconds} s / ${result.setup.podsReadySeconds} s`],
      ["controller start to caches synced", `${result.setup.controllerReadySeconds} s`],
      [`${options.count} PortForwards created (${options.createConcurrency} in flight)`, `${result.portForwards.createdSeconds} s`],
      ["all reconciled (Service + status with Ready)", `${result.portForwards.allReconciledSeconds} s`],
      ["all with ServiceReady=True in status", `${result.portForwards.allServiceReadySeconds} s`],
      [
        "per PortForward create→reconciled p50 / p95 / max",
        `${result.portForwards.perPortForwardSeconds.p50} / ${result.portForwards.perPortForwardSeconds.p95} / ${result.portForwards.perPortForwardSeconds.max} s`,
      ],
      [
        "controller memory limit (the chart's, as a cgroup)",
        result.controller.memoryLimitMiB === null ? "none" : `${result.controller.memoryLimitMiB} MiB`,
      ],
      [
        "controller RSS before / peak (VmHWM) / after",
        `${result.controller.rssBeforeMiB} / ${result.controller.peakRssMiB} / ${result.controller.rssAfterMiB} MiB`,
      ],
      [
        "controller memory at start: rss / heap used / external (of which ArrayBuffers)",
        `${memory.atStart.rssMiB} / ${memory.atStart.heapUsedMiB} / ${memory.atStart.externalMiB} (${memory.atStart.arrayBuffersMiB}) MiB`,
      ],
      [
        "controller memory at peak RSS: rss / heap total / heap used / external (ArrayBuffers)",
        `${memory.atPeak.rssMiB} / ${memory.atPeak.heapTotalMiB} / ${memory.atPeak.heapUsedMiB} / ${memory.atPeak.externalMiB} (${memory.atPeak.arrayBuffersMiB}) MiB`,
      ],
      ["controller CPU time", `${result.controller.cpuSeconds} s`],
      ["reconciles by result", JSON.stringify(reconciles)],
      ["API requests (all clients) / bench creates", `${total} / ${benchCreates}`],
      ["API requests other than the creates, per PortForward", `${result.apiRequests.perPortForward}`],
      ...requests.slice(0, 12).map(([key, n]): [string, string] => [`  ${key}`, String(n)]),
      [
        `trailing requests in the ${(live === undefined ? SETTLE_MS : LIVE_SETTLE_MS) / 1000} s after`,
        JSON.stringify(Object.fromEntries(trailing)),
      ],
    ]);
    if (result.liveTunnels !== undefined) {
      printTable(
        `live tunnels: ${options.count} PortForwards through ${result.liveTunnels.gateways} gateway(s)`,
        liveRows(result.liveTunnels, options.count),
      );
    }
    return result;
  } finally {
    if (controller !== undefined) await controller.stop();
    await live?.stop();
    await plane.stop();
  }
}
