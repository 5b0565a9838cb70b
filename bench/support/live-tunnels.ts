/**
 * The pieces of the controller benchmark's `--live-tunnels` mode that are not the controller:
 * - every KWOK pod of a namespace port-forwards to one local echo server (a KWOK
 *   ClusterPortForward, test/cluster/pods.ts explains the mapping; test-cluster.md §3.2);
 * - gateway processes started as tests start them (test/support/operator-process.ts), gateway k
 *   on 127.0.0.(k+1), each with its own pod name and heartbeat;
 * - figures from a gateway's /metrics (names in src/gateway/gateway-metrics.ts and the work-queue
 *   families of src/observability/metrics.ts);
 * - an echo round trip through one PortForward's gateway port, every byte compared.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import type { OperatorProcess } from "../../test/support/operator-process.ts";
import { startInstalledOperator } from "./installed-operator.ts";
import { parseSamples, type Sample, select, sumOf } from "./prometheus-text.ts";

/** Maps port `podPort` of every pod in `namespace` to 127.0.0.1:`port`. */
export async function forwardAllPodsTo(kc: KubeConfig, namespace: string, podPort: number, port: number): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    group: "kwok.x-k8s.io",
    version: "v1alpha1",
    plural: "clusterportforwards",
    body: {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "ClusterPortForward",
      metadata: { name: `${namespace}-echo` },
      spec: {
        selector: { matchNamespaces: [namespace] },
        forwards: [{ ports: [podPort], target: { address: "127.0.0.1", port } }],
      },
    },
  });
}

export interface StartedGateway {
  readonly process: OperatorProcess;
  readonly host: string;
  readonly pid: number;
}

/** Starts gateway `index` (pod name `bench-gateway-<index>`, listening on 127.0.0.<index+1>). */
export async function startGateway(
  kubeconfig: string,
  index: number,
  env: Readonly<Record<string, string>>,
  args: readonly string[] = [],
): Promise<StartedGateway> {
  const host = `127.0.0.${index + 1}`;
  const process = await startInstalledOperator({
    command: "gateway",
    kubeconfig,
    podName: `bench-gateway-${index}`,
    listenHost: host,
    env,
    args,
  });
  const pid = process.child.pid;
  if (pid === undefined) throw new Error(`gateway ${index} has no pid`);
  return { process, host, pid };
}

/** What a gateway's /metrics says about its tunnels, its status writes and its queues. */
export interface GatewayFigures {
  /** Sum of tunnelkeeper_gateway_tunnels_up over all PortForwards. */
  tunnelsUp: number;
  /** PortForwards with at least one tunnel up. */
  portForwardsWithTunnel: number;
  /** tunnelkeeper_gateway_dial_duration_seconds by result: count and mean seconds. */
  dials: Record<string, { count: number; meanSeconds: number }>;
  reconnects: number;
  listenErrors: number;
  /** controller_runtime_reconcile_total of the gateway's two loops, by result. */
  statusReports: Record<string, number>;
  syncs: Record<string, number>;
  /** workqueue_* of the gateway-status and gateway-sync queues: depth now, adds, mean wait in the queue. */
  queues: Record<string, { depth: number; adds: number; meanQueueSeconds: number; meanWorkSeconds: number }>;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function byResult(samples: readonly Sample[], controller: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const s of select(samples, "controller_runtime_reconcile_total", { controller })) {
    if (s.value > 0) result[s.labels.result ?? "?"] = s.value;
  }
  return result;
}

/** Work-queue figures of queue `name` from a component's metrics. */
export function queueFigures(samples: readonly Sample[], name: string) {
  const mean = (family: string) => {
    const count = sumOf(samples, `${family}_count`, { name });
    return count === 0 ? 0 : round(sumOf(samples, `${family}_sum`, { name }) / count, 4);
  };
  return {
    depth: sumOf(samples, "workqueue_depth", { name }),
    adds: sumOf(samples, "workqueue_adds_total", { name }),
    meanQueueSeconds: mean("workqueue_queue_duration_seconds"),
    meanWorkSeconds: mean("workqueue_work_duration_seconds"),
  };
}

export function gatewayFigures(metrics: string): GatewayFigures {
  return figuresOf(parseSamples(metrics));
}

export function figuresOf(samples: readonly Sample[]): GatewayFigures {
  const tunnels = select(samples, "tunnelkeeper_gateway_tunnels_up");
  const dials: GatewayFigures["dials"] = {};
  for (const s of select(samples, "tunnelkeeper_gateway_dial_duration_seconds_count")) {
    const result = s.labels.result ?? "?";
    const sum = sumOf(samples, "tunnelkeeper_gateway_dial_duration_seconds_sum", { result });
    dials[result] = { count: s.value, meanSeconds: s.value === 0 ? 0 : round(sum / s.value) };
  }
  return {
    tunnelsUp: tunnels.reduce((sum, s) => sum + s.value, 0),
    portForwardsWithTunnel: tunnels.filter((s) => s.value > 0).length,
    dials,
    reconnects: sumOf(samples, "tunnelkeeper_gateway_reconnects_total"),
    listenErrors: sumOf(samples, "tunnelkeeper_gateway_listen_errors_total"),
    statusReports: byResult(samples, "gateway-status"),
    syncs: byResult(samples, "gateway-sync"),
    queues: { "gateway-status": queueFigures(samples, "gateway-status"), "gateway-sync": queueFigures(samples, "gateway-sync") },
  };
}

/**
 * Connects to host:port, sends `bytes` random bytes and resolves once exactly they came back;
 * rejects on a difference, an error, a close or `timeoutMs`.
 */
export function verifyEcho(host: string, port: number, bytes = 1024, timeoutMs = 10_000): Promise<void> {
  const payload = randomBytes(bytes);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => finish(new Error(`no echo of ${bytes} bytes within ${timeoutMs} ms (${received} received)`)), timeoutMs);
    socket.on("connect", () => socket.write(payload));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < bytes) return;
      finish(Buffer.concat(chunks).equals(payload) ? undefined : new Error("the echoed bytes differ from those sent"));
    });
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error(`closed after ${received} of ${bytes} bytes`)));
  });
}

/** Events of `namespace` (events.k8s.io/v1) counted by "type reason", largest first: which transitions cost a POST. */
export async function eventsByReason(kc: KubeConfig, namespace: string): Promise<Record<string, number>> {
  const list = (await kubeRequest(kc, {
    method: "GET",
    path: resourcePath({ apiVersion: "events.k8s.io/v1", plural: "events", namespace }),
  })) as {
    items?: { type?: string; reason?: string; deprecatedCount?: number; series?: { count?: number } }[];
  };
  const counts = new Map<string, number>();
  for (const event of list.items ?? []) {
    const key = `${event.type ?? "?"} ${event.reason ?? "?"}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}
