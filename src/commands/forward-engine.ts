/**
 * What both forms of `tunnelkeeper forward` share: a cluster cache that fails fast at start
 * (an API server that refuses us or is not there is one line, not a retry loop nobody sees),
 * and a Forwarder that follows an in-memory PortForward's targets as the cache changes.
 *
 * A PortForward port may be bound on several addresses (kubectl's `localhost` is 127.0.0.1 and
 * ::1): each (port, address) pair is a binding of its own, and every target carries the pod port
 * for each of them, so all listeners share one tunnel per pod.
 */
import type { PortForward } from "../api/portforward.ts";
import type { ForwardProtocol } from "../config.ts";
import { Forwarder, type ForwarderBinding, type ForwarderTarget } from "../gateway/forwarder.ts";
import { NO_GATEWAY_METRICS } from "../gateway/gateway-metrics.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isForbidden, isUnauthorized } from "../kube/errors.ts";
import type { Logger } from "../observability/log.ts";
import { type ResolveResult, resolveTargets } from "../targets/resolve-targets.ts";
import { tunnelSettingsFor } from "../targets/tunnel-settings.ts";
import { openTunnel } from "../tunnel/index.ts";
import { type CacheKind, ClusterCache } from "../watch/cluster-cache.ts";
import { CommandError, describeFailure } from "./command-error.ts";

export interface StartedCache {
  readonly cache: ClusterCache;
  readonly running: Promise<void>;
  readonly stop: () => Promise<void>;
}

/** Starts a cache of `kinds` in `namespaces`; rejects (one line) if the first list fails. */
export async function startCache(
  kubeConfig: KubeConnection,
  namespaces: readonly string[],
  kinds: readonly CacheKind[],
  log: Logger,
): Promise<StartedCache> {
  const abort = new AbortController();
  let failFirstList: ((error: unknown) => void) | undefined;
  const firstListFailed = new Promise<never>((_, reject) => {
    failFirstList = reject;
  });
  const cache = new ClusterCache({
    kubeConfig,
    namespaces,
    kinds,
    observer: (kind) => ({
      failed: (phase, error, retryInMs) => {
        if (!cache.synced) failFirstList?.(error);
        else log.warn("Watch failed; retrying", { kind, phase, retryInMs, error });
      },
    }),
  });
  const running = cache.start(abort.signal);
  const stop = async () => {
    abort.abort();
    await running;
  };
  try {
    await Promise.race([cache.hasSynced(), firstListFailed]);
  } catch (error) {
    await stop();
    const line = describeFailure(error);
    const hint = isForbidden(error) || isUnauthorized(error) ? ` (listing ${kinds.join(", ")} in ${namespaces.join(", ")})` : "";
    throw new CommandError(`${line ?? (error instanceof Error ? error.message : String(error))}${hint}`, { cause: error });
  }
  failFirstList = undefined;
  return { cache, running, stop };
}

/** The cache kinds a target resolves through. */
export function kindsFor(pf: PortForward): CacheKind[] {
  const { target } = pf.spec;
  if (target.service !== undefined) return ["pods", "services", "endpointslices"];
  if (target.workload !== undefined) return ["pods", `${target.workload.kind.toLowerCase()}s` as CacheKind];
  return ["pods"];
}

/** A listener: which PortForward port it carries, and where. */
export interface LocalBinding {
  /** Stable across updates (the Forwarder keys its listeners by it); ≥ 1. */
  readonly id: number;
  readonly specPort: number;
  readonly address: string;
  readonly localPort: number;
}

/** Forwarder targets for `bindings`, each binding id mapped to its spec port's pod port. */
export function targetsFor(resolved: ResolveResult, bindings: readonly LocalBinding[]): ForwarderTarget[] {
  return resolved.targets.map((t) => ({
    pod: t.pod,
    ready: t.ready,
    ports: bindings.flatMap((b) => {
      const targetPort = t.ports.find((p) => p.port === b.specPort)?.targetPort;
      return targetPort === undefined ? [] : [{ port: b.id, targetPort }];
    }),
  }));
}

export function forwarderBindings(bindings: readonly LocalBinding[]): ForwarderBinding[] {
  return bindings.map((b) => ({ port: b.id, listenPort: b.localPort, listenHost: b.address }));
}

export interface FollowedPortForward {
  readonly forwarder: Forwarder;
  /** Latest resolution. */
  resolved(): ResolveResult;
  /** Re-resolves and updates the forwarder with `bindings` (kept for later cache changes). */
  bind(bindings: readonly LocalBinding[]): Promise<void>;
  /** Calls `listener` after every update until the returned function is called. */
  onUpdate(listener: () => void): () => void;
}

export interface FollowOptions {
  readonly kubeConfig: KubeConnection;
  readonly cache: ClusterCache;
  readonly pf: PortForward;
  readonly namespace: string;
  readonly protocol?: ForwardProtocol;
  readonly log: Logger;
  readonly onConnection?: (binding: LocalBinding) => void;
}

/** A Forwarder for `pf` that follows its targets through the cache. */
export function followPortForward(options: FollowOptions): FollowedPortForward {
  const { kubeConfig, cache, pf, namespace, log } = options;
  const settings = tunnelSettingsFor(pf, options.protocol);
  let bindings: readonly LocalBinding[] = [];
  let resolved = resolveTargets(pf, cache.observationFor(namespace));
  const listeners: (() => void)[] = [];
  const forwarder = new Forwarder({
    name: `${namespace}/${pf.metadata.name}`,
    listenHost: "127.0.0.1",
    log,
    metrics: NO_GATEWAY_METRICS,
    onChange: () => {
      for (const listener of listeners) listener();
    },
    onConnection: (binding) => {
      const local = bindings.find((b) => b.id === binding.port);
      if (local !== undefined) options.onConnection?.(local);
    },
    openTunnel: (pod, signal) =>
      openTunnel({ kubeConfig, namespace, pod, protocol: settings.protocol, keepaliveIntervalMs: settings.keepaliveIntervalMs, signal }),
  });
  const sync = async () => {
    resolved = resolveTargets(pf, cache.observationFor(namespace));
    await forwarder.update({
      targets: targetsFor(resolved, bindings),
      bindings: forwarderBindings(bindings),
      loadBalancing: pf.spec.loadBalancing,
    });
    for (const listener of listeners) listener();
  };
  let syncing = Promise.resolve();
  const resync = (): Promise<void> => {
    syncing = syncing.then(sync).catch((error: unknown) => log.error("Failed to follow the target", { error }));
    return syncing;
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
    kind.addHandler(() => {
      resync();
    });
  }
  return {
    forwarder,
    resolved: () => resolved,
    bind: (next) => {
      bindings = next;
      return resync();
    },
    onUpdate: (listener) => {
      listeners.push(listener);
      return () => {
        const index = listeners.indexOf(listener);
        if (index !== -1) listeners.splice(index, 1);
      };
    },
  };
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string) => () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = onSignal("SIGINT");
    const onTerm = onSignal("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
  });
}
