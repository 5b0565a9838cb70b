/**
 * `tunnelkeeper forward <pod|deployment|statefulset|replicaset|daemonset|service>/<name>
 *  [LOCAL:]REMOTE... [-n NS] [--address 127.0.0.1] [--protocol Auto|Tunnel|Legacy]`
 *
 * A laptop-side drop-in for `kubectl port-forward` on the gateway's engine: every local
 * connection is a stream on ONE tunnel per pod (not one upgrade per connection), the tunnel is
 * kept alive and redialled, and for workload and Service targets a replaced pod is picked up as
 * soon as it is ready. It is the gateway's Forwarder fed by an in-memory PortForward.
 *
 * Output mirrors kubectl: "Forwarding from 127.0.0.1:LOCAL -> REMOTE" per port once listening.
 * Exit: 1 when the target cannot be resolved at start (as kubectl does), 0 on SIGINT/SIGTERM.
 */
import { API_VERSION, KIND } from "../api/identity.ts";
import { type PortForward, parsePortForward } from "../api/portforward.ts";
import type { Target } from "../api/spec.ts";
import { parseDurationMs } from "../api/validation.ts";
import { type Config, ConfigError } from "../config.ts";
import { describeTarget, resolveTargets } from "../controller/resolve-targets.ts";
import { Forwarder } from "../gateway/forwarder.ts";
import { NO_GATEWAY_METRICS } from "../gateway/gateway-metrics.ts";
import { loadKubeConfig } from "../kube/client.ts";
import type { Logger } from "../observability/log.ts";
import { openTunnel } from "../tunnel/index.ts";
import { type CacheKind, ClusterCache } from "../watch/cluster-cache.ts";

const WORKLOADS: Record<string, "Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet"> = {
  deployment: "Deployment",
  deploy: "Deployment",
  deployments: "Deployment",
  statefulset: "StatefulSet",
  sts: "StatefulSet",
  statefulsets: "StatefulSet",
  replicaset: "ReplicaSet",
  rs: "ReplicaSet",
  replicasets: "ReplicaSet",
  daemonset: "DaemonSet",
  ds: "DaemonSet",
  daemonsets: "DaemonSet",
};

/** Parses `kind/name` (kubectl spellings) into a PortForward target and the kinds to watch. */
export function parseTargetRef(ref: string): { target: Target; kinds: CacheKind[] } {
  const [kind, name, extra] = ref.split("/");
  if (!kind || !name || extra !== undefined)
    throw new ConfigError(`target must be KIND/NAME (e.g. pod/web-0, deployment/api, service/db), got "${ref}"`);
  const lower = kind.toLowerCase();
  if (lower === "pod" || lower === "pods" || lower === "po") return { target: { pod: name }, kinds: ["pods"] };
  if (lower === "service" || lower === "services" || lower === "svc") {
    return { target: { service: name }, kinds: ["pods", "services", "endpointslices"] };
  }
  const workload = WORKLOADS[lower];
  if (workload === undefined)
    throw new ConfigError(`unsupported target kind "${kind}"; use pod, service, deployment, statefulset, replicaset or daemonset`);
  return { target: { workload: { kind: workload, name } }, kinds: ["pods", `${workload.toLowerCase()}s` as CacheKind] };
}

export interface PortPair {
  readonly local: number;
  readonly remote: number | string;
}

/** Parses `[LOCAL:]REMOTE` like kubectl: `8080`, `9000:80`, `:80` (any free local port), `8080:http`. */
export function parsePortPair(text: string): PortPair {
  const match = /^(?:(\d*):)?([0-9]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(text);
  if (!match) throw new ConfigError(`port must be [LOCAL:]REMOTE, got "${text}"`);
  const remote = /^\d+$/.test(match[2]!) ? Number(match[2]) : match[2]!;
  const localText = match[1];
  const local = localText === undefined ? (typeof remote === "number" ? remote : 0) : localText === "" ? 0 : Number(localText);
  if (local > 65535 || (typeof remote === "number" && (remote < 1 || remote > 65535)))
    throw new ConfigError(`port out of range in "${text}"`);
  return { local, remote };
}

export async function runForward(config: Extract<Config, { command: "forward" }>, log: Logger): Promise<number> {
  const { forward, common } = config;
  const { target, kinds } = parseTargetRef(forward.target ?? "");
  const pairs = forward.ports.map(parsePortPair);
  const kubeConfig = loadKubeConfig({
    ...(common.kubeconfigPath === undefined ? {} : { kubeconfigPath: common.kubeconfigPath }),
    ...(common.context === undefined ? {} : { context: common.context }),
  });
  const namespace = forward.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
  const parsed = parsePortForward({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: "forward", namespace },
    spec: {
      target,
      // Ports are identified by position; the Service-port numbers here are only labels.
      ports: pairs.map((pair, index) => ({ name: `port-${index + 1}`, port: index + 1, targetPort: pair.remote })),
      loadBalancing: "First",
      protocol: forward.protocol,
    },
  });
  if (!parsed.ok) throw new ConfigError(parsed.error.issues.map((i) => i.message).join("; "));
  const pf: PortForward = parsed.value;
  const cache = new ClusterCache({ kubeConfig, namespaces: [namespace], kinds });
  const abort = new AbortController();
  const running = cache.start(abort.signal);
  await cache.hasSynced();

  const initial = resolveTargets(pf, cache.observationFor(namespace));
  if (!initial.ok) {
    process.stderr.write(`error: ${initial.message}\n`);
    abort.abort();
    await running;
    return 1;
  }
  const keepaliveIntervalMs = parseDurationMs(pf.spec.keepalive.interval) ?? 10_000;
  const forwarder = new Forwarder({
    name: describeTarget(target),
    listenHost: forward.addresses[0]!,
    log,
    metrics: NO_GATEWAY_METRICS,
    openTunnel: (pod, signal) => openTunnel({ kubeConfig, namespace, pod, protocol: pf.spec.protocol, keepaliveIntervalMs, signal }),
  });
  const bindings = pairs.map((pair, index) => ({ port: index + 1, listenPort: pair.local }));
  const sync = async () => {
    const resolved = resolveTargets(pf, cache.observationFor(namespace));
    await forwarder.update({ targets: resolved.targets, bindings, loadBalancing: pf.spec.loadBalancing });
  };
  let syncing = Promise.resolve();
  const resync = () => {
    syncing = syncing.then(sync).catch((error: unknown) => log.error("Failed to follow the target", { error }));
  };
  for (const kind of [
    cache.pods,
    cache.services,
    cache.endpointSlices,
    cache.deployments,
    cache.statefulSets,
    cache.replicaSets,
    cache.daemonSets,
  ]) {
    kind.addHandler(resync);
  }
  await sync();
  const listening = forwarder.snapshot().listening;
  const errors = forwarder.snapshot().listenErrors;
  if (errors.length > 0) {
    process.stderr.write(`error: ${errors.join("; ")}\n`);
    await forwarder.close(0);
    abort.abort();
    await running;
    return 1;
  }
  pairs.forEach((pair, index) => {
    process.stdout.write(`Forwarding from ${forward.addresses[0]!}:${listening.get(index + 1)} -> ${pair.remote}\n`);
  });

  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await forwarder.close(0);
  abort.abort();
  await running;
  return 0;
}
