/**
 * `tunnelkeeper forward TYPE/NAME [LOCAL:]REMOTE...`: a drop-in for `kubectl port-forward` on the
 * gateway's engine. Same arguments (a bare NAME is a pod; kubectl's type names and short names;
 * `LOCAL:REMOTE`, `:REMOTE`, `REMOTE`; named ports; `--address` with `localhost` = 127.0.0.1 and
 * ::1; `--pod-running-timeout`), same output lines on stdout ("Forwarding from 127.0.0.1:8080 ->
 * 80", "Handling connection for 8080"), same rules for which port is local and which remote:
 * - pods and workloads: REMOTE is a container port (a name is looked up in the pod's spec); a
 *   missing LOCAL is the remote port number;
 * - Services: REMOTE is a Service port (number or name), forwarded to the pod port it maps to;
 *   a missing LOCAL is the Service port number.
 * Binding: on `localhost` a port fails only if neither address can be bound; on an explicit
 * address list, if any fails. The command fails when no port could be bound at all.
 *
 * Beyond kubectl: one tunnel per pod carries every connection, is kept alive and redialled;
 * workload and Service targets follow their ready pods as they are replaced; new connections
 * spread over ready pods. Unlike kubectl, a pod that does not exist yet is waited for too (up to
 * --pod-running-timeout), not only one that is not running yet.
 *
 * `-f FILE|DIR` runs PortForward manifests instead (forward-files.ts).
 * Exit: 0 on SIGINT/SIGTERM, 1 when the target never gets a running pod or no port can be bound.
 */
import { API_VERSION, KIND } from "../api/identity.ts";
import { type PortForward, parsePortForward } from "../api/portforward.ts";
import type { Target } from "../api/spec.ts";
import { type Config, ConfigError } from "../config.ts";
import { loadKubeConfig } from "../kube/client.ts";
import type { Logger } from "../observability/log.ts";
import { describeTarget, type ResolveResult } from "../targets/resolve-targets.ts";
import { CommandError } from "./command-error.ts";
import { followPortForward, kindsFor, type LocalBinding, startCache, untilSignal } from "./forward-engine.ts";

const KINDS: Record<string, "pod" | "service" | "Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet"> = {
  pod: "pod",
  pods: "pod",
  po: "pod",
  service: "service",
  services: "service",
  svc: "service",
  deployment: "Deployment",
  deployments: "Deployment",
  deploy: "Deployment",
  statefulset: "StatefulSet",
  statefulsets: "StatefulSet",
  sts: "StatefulSet",
  replicaset: "ReplicaSet",
  replicasets: "ReplicaSet",
  rs: "ReplicaSet",
  daemonset: "DaemonSet",
  daemonsets: "DaemonSet",
  ds: "DaemonSet",
};

/** Parses `NAME` (a pod) or `TYPE/NAME` with kubectl's type names (`deployment.apps/x` too). */
export function parseTargetRef(ref: string): Target {
  const parts = ref.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw new ConfigError(`the target must be NAME or TYPE/NAME (e.g. web-0, deploy/api, svc/db), got "${ref}"`);
  }
  const [type, name] = parts.length === 1 ? ["pod", parts[0]!] : [parts[0]!, parts[1]!];
  const kind = KINDS[type.toLowerCase().replace(/\.(apps|v1\.apps|v1)$/, "")];
  if (kind === undefined) {
    throw new ConfigError(
      `cannot forward to "${type}"; use pod (po), deployment (deploy), statefulset (sts), replicaset (rs), daemonset (ds) or service (svc)`,
    );
  }
  if (kind === "pod") return { pod: name };
  if (kind === "service") return { service: name };
  return { workload: { kind, name } };
}

export interface PortPair {
  /** undefined: not given (defaults to the remote port number); 0: any free port (`:REMOTE`). */
  readonly local: number | undefined;
  readonly remote: number | string;
}

/** Parses `[LOCAL:]REMOTE` like kubectl: `8080`, `9000:80`, `:80`, `8080:http`, `http`. */
export function parsePortPair(text: string): PortPair {
  const match = /^(?:(\d*):)?([0-9]+|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(text);
  if (!match) throw new ConfigError(`a port must be [LOCAL_PORT:]REMOTE_PORT (a number or a port name), got "${text}"`);
  const remote = /^\d+$/.test(match[2]!) ? Number(match[2]) : match[2]!;
  const localText = match[1];
  const local = localText === undefined ? undefined : localText === "" ? 0 : Number(localText);
  if ((local !== undefined && local > 65535) || (typeof remote === "number" && (remote < 1 || remote > 65535))) {
    throw new ConfigError(`port out of range (1-65535) in "${text}"`);
  }
  return { local, remote };
}

/** The local port of a pair once the target is resolved (kubectl's defaulting rules, header). */
function localPortOf(pair: PortPair, target: Target, resolvedRemote: number | undefined, servicePort: number | undefined): number {
  if (pair.local !== undefined) return pair.local;
  if (typeof pair.remote === "number") return pair.remote;
  return (target.service !== undefined ? servicePort : resolvedRemote) ?? 0;
}

function formatAddress(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Waits until the target has a ready pod, or the timeout passes; returns the last resolution. */
async function waitForRunningPod(followed: ReturnType<typeof followPortForward>, timeoutMs: number): Promise<ResolveResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await followed.bind([]);
    const resolved = followed.resolved();
    if (resolved.ok && resolved.targets.some((t) => t.ready)) return resolved;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return resolved;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, Math.min(remaining, 1000));
      const unsubscribe = followed.onUpdate(done);
    });
  }
}

export async function runForward(config: Extract<Config, { command: "forward" }>, log: Logger): Promise<number> {
  const { forward, common } = config;
  if (forward.files.length > 0) {
    const { runForwardFiles } = await import("./forward-files.ts");
    return runForwardFiles(config, log);
  }
  const target = parseTargetRef(forward.target ?? "");
  const pairs = forward.ports.map(parsePortPair);
  const { connection: kubeConfig, namespace: contextNamespace } = await loadKubeConfig({
    ...(common.kubeconfigPath === undefined ? {} : { kubeconfigPath: common.kubeconfigPath }),
    ...(common.context === undefined ? {} : { context: common.context }),
  });
  const namespace = forward.namespace ?? contextNamespace ?? "default";
  const parsed = parsePortForward({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: "forward", namespace },
    spec: {
      target,
      // Ports are identified by position; these Service-port numbers are only labels.
      ports: pairs.map((pair, index) => ({ name: `port-${index + 1}`, port: index + 1, targetPort: pair.remote })),
      loadBalancing: "First",
      protocol: forward.protocol,
    },
  });
  if (!parsed.ok) throw new ConfigError(parsed.error.issues.map((i) => i.message).join("; "));
  const pf: PortForward = parsed.value;
  const { cache, stop } = await startCache(kubeConfig, [namespace], kindsFor(pf), log);
  const followed = followPortForward({
    kubeConfig,
    cache,
    pf,
    namespace,
    log,
    onConnection: (binding) => process.stdout.write(`Handling connection for ${binding.localPort}\n`),
  });
  try {
    const resolved = await waitForRunningPod(followed, forward.podRunningTimeoutMs);
    const ready = resolved.targets.find((t) => t.ready);
    if (!resolved.ok || ready === undefined) {
      const why = resolved.ok ? `no pod of ${describeTarget(target)} is running and ready` : resolved.message;
      throw new CommandError(
        `timed out after ${forward.podRunningTimeoutMs / 1000}s (--pod-running-timeout) waiting for a running pod in namespace ${namespace}: ${why}`,
      );
    }
    const service = target.service === undefined ? undefined : cache.services.get(`${namespace}/${target.service}`);
    const remotes = pairs.map((_, index) => ready.ports.find((p) => p.port === index + 1)?.targetPort);
    const locals = pairs.map((pair, index) => {
      const servicePort = service?.spec?.ports?.find((p) => p.port === pair.remote || p.name === pair.remote)?.port;
      return localPortOf(pair, target, remotes[index], servicePort);
    });

    // Like client-go: the first address picks the free port for `:REMOTE`, the others reuse it.
    const wanted: LocalBinding[] = [];
    let chosen = locals;
    for (const [index, address] of forward.addresses.entries()) {
      wanted.push(...pairs.map((_, p) => ({ id: wanted.length + p + 1, specPort: p + 1, address, localPort: chosen[p]! })));
      await followed.bind(wanted);
      if (index === 0) {
        const listening = followed.forwarder.snapshot().listening;
        chosen = locals.map((port, p) => listening.get(p + 1) ?? port);
      }
    }
    const snapshot = followed.forwarder.snapshot();
    const up = wanted.flatMap((b) => {
      const port = snapshot.listening.get(b.id);
      return port === undefined ? [] : [{ ...b, localPort: port }];
    });
    for (const error of snapshot.listenErrors) process.stderr.write(`Unable to listen: ${error}\n`);
    const okPorts = pairs
      .map((_, p) => p + 1)
      .filter((specPort) => {
        const listening = up.filter((b) => b.specPort === specPort).length;
        return forward.addressesFromLocalhost ? listening > 0 : listening === forward.addresses.length;
      });
    const serving = up.filter((b) => okPorts.includes(b.specPort));
    // Failed bindings are dropped, so later target changes do not retry them.
    await followed.bind(serving);
    if (okPorts.length === 0) {
      throw new CommandError(
        `unable to listen on any of the requested ports (${forward.ports.join(" ")} on ${forward.addresses.join(", ")}); free them or choose others`,
      );
    }
    // kubectl's order: port by port, each on every address.
    for (const b of [...serving].sort((x, y) => x.specPort - y.specPort || x.id - y.id)) {
      process.stdout.write(
        `Forwarding from ${formatAddress(b.address, b.localPort)} -> ${remotes[b.specPort - 1] ?? pairs[b.specPort - 1]!.remote}\n`,
      );
    }
    await untilSignal();
    return 0;
  } finally {
    await followed.forwarder.close(0);
    await stop();
  }
}
