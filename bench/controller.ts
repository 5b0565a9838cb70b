/**
 * Controller benchmark: how long one `tunnelkeeper controller` process takes to reconcile a
 * burst of PortForwards created at once, its peak memory and CPU, and the API requests made.
 *
 *   npm run bench -- controller [--count 1000] [--pods N] [--create-concurrency 50] [--json FILE]
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
 * A script, not a test: it reports figures and never fails on them.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import { API_VERSION, KIND, PLURAL } from "../src/api/identity.ts";
import { kubeRequest, resourcePath } from "../src/kube/request.ts";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { ensureNamespace } from "../test/cluster/pods.ts";
import { loadKubeConfig } from "../test/support/cluster.ts";
import { installCrd, startOperatorProcess } from "../test/support/operator-process.ts";
import type { PortForwardObject } from "../test/support/portforwards.ts";
import { diffCounts, scrapeRequestCounts } from "./support/apiserver-metrics.ts";
import { inParallel, percentile } from "./support/parallel.ts";
import { sampleProcess } from "./support/process-stats.ts";
import { printTable } from "./support/report.ts";

const NAMESPACE = "bench";
const SETTLE_MS = 5_000;

interface Options {
  count: number;
  pods: number;
  createConcurrency: number;
}

function parseOptions(args: readonly string[]): Options {
  const value = (flag: string, fallback: number) => {
    const index = args.indexOf(flag);
    if (index < 0) return fallback;
    const n = Number(args[index + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const count = value("--count", 1000);
  return { count, pods: Math.min(value("--pods", count), count), createConcurrency: value("--create-concurrency", 50) };
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

/** Watches PortForwards and Services of the bench namespace; resolves when `names` are all reconciled. */
function watchReconciled(
  kc: KubeConfig,
  names: readonly string[],
): { done: Promise<void>; settled: Promise<void>; reconciledAt: Map<string, number>; stop(): void } {
  const wanted = new Set(names);
  const statusDone = new Set<string>();
  const serviceReady = new Set<string>();
  let settle: () => void = () => {};
  const settled = new Promise<void>((r) => {
    settle = r;
  });
  const services = new Set<string>();
  const reconciledAt = new Map<string, number>();
  const watch = new Watch(kc);
  const aborts: AbortController[] = [];
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const check = (name: string) => {
    if (!reconciledAt.has(name) && statusDone.has(name) && services.has(name)) {
      reconciledAt.set(name, performance.now());
      if (reconciledAt.size === wanted.size) resolve();
    }
  };
  const onError = (what: string) => (error: unknown) => {
    if (reconciledAt.size < wanted.size && error !== null && error !== undefined)
      process.stderr.write(`${what} watch ended: ${String(error)}\n`);
  };
  const start = async () => {
    aborts.push(
      await watch.watch(
        resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace: NAMESPACE }),
        {},
        (phase, object: PortForwardObject) => {
          const name = object.metadata.name;
          if (phase === "DELETED" || !wanted.has(name)) return;
          const status = object.status;
          if (status?.observedGeneration === object.metadata.generation && status.conditions?.some((c) => c.type === "Ready")) {
            statusDone.add(name);
            check(name);
          }
          if (status?.conditions?.some((c) => c.type === "ServiceReady" && c.status === "True")) {
            serviceReady.add(name);
            if (serviceReady.size === wanted.size) settle();
          }
        },
        onError("PortForward"),
      ),
      await watch.watch(
        resourcePath({ apiVersion: "v1", plural: "services", namespace: NAMESPACE }),
        {},
        (phase, object: { metadata: { name: string } }) => {
          if (phase === "DELETED" || !wanted.has(object.metadata.name)) return;
          services.add(object.metadata.name);
          check(object.metadata.name);
        },
        onError("Service"),
      ),
    );
  };
  const started = start();
  return {
    done: started.then(() => done),
    settled: started.then(() => settled),
    reconciledAt,
    stop() {
      for (const abort of aborts) abort.abort();
    },
  };
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
  const options = parseOptions(args);
  const t0 = performance.now();
  const plane = await startControlPlane();
  let controller: Awaited<ReturnType<typeof startOperatorProcess>> | undefined;
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
    // JavaScript heap, ArrayBuffers and the rest; it is preloaded through NODE_OPTIONS.
    const memoryFile = join(tmpdir(), `tunnelkeeper-controller-memory-${process.pid}.json`);
    const savedNodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${savedNodeOptions ?? ""} --import ${join(import.meta.dirname, "support", "memory-probe.ts")}`.trim();
    process.env.TK_BENCH_MEMORY_FILE = memoryFile;
    try {
      controller = await startOperatorProcess({ command: "controller", kubeconfig: plane.state.kubeconfig });
    } finally {
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedNodeOptions;
      delete process.env.TK_BENCH_MEMORY_FILE;
    }
    const controllerReadyMs = performance.now() - controllerStarted;
    const pid = controller.child.pid;
    if (pid === undefined) throw new Error("the controller process has no pid");
    const rssBeforeMiB = sampleProcess(pid).stop().rssMiB;
    const sampling = sampleProcess(pid);

    const names = Array.from({ length: options.count }, (_, i) => `pf-${i}`);
    const watcher = watchReconciled(kc, names);
    await sleep(200); // let the watches open before the first create
    const before = await scrapeRequestCounts(kc);
    const createdAt = new Map<string, number>();
    const started = performance.now();
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
    await watcher.done;
    const reconciledMs = performance.now() - started;
    const atDone = await scrapeRequestCounts(kc);
    await watcher.settled;
    const serviceReadyMs = performance.now() - started;
    const stats = sampling.stop();
    await sleep(SETTLE_MS);
    const settled = await scrapeRequestCounts(kc);
    watcher.stop();
    const reconciles = reconcileCounts(await controller.metrics());
    await controller.stop();
    controller = undefined;
    const memory = JSON.parse(readFileSync(memoryFile, "utf8")) as {
      atStart: Record<string, number>;
      atPeak: Record<string, number>;
      heapSpacesAtPeakMiB: Record<string, number>;
    };

    const latencies = names.map((n) => (watcher.reconciledAt.get(n) ?? 0) - (createdAt.get(n) ?? 0)).sort((a, b) => a - b);
    const requests = diffCounts(before, atDone);
    const trailing = diffCounts(atDone, settled);
    const total = requests.reduce((sum, [, n]) => sum + n, 0);
    const benchCreates = requests.find(([key]) => key === `POST ${PLURAL}`)?.[1] ?? 0;

    const result = {
      options,
      machine: { cpus: availableParallelism(), node: process.version },
      setup: {
        controlPlaneSeconds: seconds(controlPlaneMs),
        podsCreatedSeconds: seconds(podsCreatedMs),
        podsReadySeconds: seconds(podsReadyMs),
        controllerReadySeconds: seconds(controllerReadyMs),
      },
      portForwards: {
        createdSeconds: seconds(createdMs),
        allReconciledSeconds: seconds(reconciledMs),
        allServiceReadySeconds: seconds(serviceReadyMs),
        perPortForwardSeconds: {
          p50: seconds(percentile(latencies, 0.5)),
          p95: seconds(percentile(latencies, 0.95)),
          max: seconds(latencies.at(-1) ?? 0),
        },
      },
      controller: {
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
      [`trailing requests in the ${SETTLE_MS / 1000} s after`, JSON.stringify(Object.fromEntries(trailing))],
    ]);
    return result;
  } finally {
    if (controller !== undefined) await controller.stop();
    await plane.stop();
  }
}
