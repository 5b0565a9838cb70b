/**
 * Where each PortForward's targets are observed and its tunnels opened: this cluster's shared
 * cache, or the remote cluster its spec.cluster.kubeconfigSecretRef names. The controller and the
 * gateway ask here instead of reading the local cache, so neither can resolve a remote
 * PortForward's targets among this cluster's pods by mistake.
 *
 * Remote clusters are shared: PortForwards naming the same Secret, remote namespace and kinds use
 * one RemoteCluster (one set of watches); it stops when the last of them is released.
 */
import type { PortForward } from "../api/portforward.ts";
import type { Target } from "../api/spec.ts";
import type { KubeConnection } from "../kube/connection.ts";
import type { Logger } from "../observability/log.ts";
import type { Clock } from "../runtime/clock.ts";
import type { TargetObservation } from "../targets/resolve-targets.ts";
import type { CacheKind, ClusterCache } from "../watch/cluster-cache.ts";
import { RemoteCluster } from "./remote-cluster.ts";
import type { RemoteClusterMetrics } from "./remote-metrics.ts";

export interface TargetSourcesOptions {
  readonly kubeConfig: KubeConnection;
  readonly cache: ClusterCache;
  /** Ask remote API servers for the permissions tunnels need (the controller does; gateways don't). */
  readonly checkAccess: boolean;
  readonly log: Logger;
  /** Keys of PortForwards whose remote cluster changed (objects, credentials or problem). */
  readonly onChange: (keys: readonly string[]) => void;
  readonly clock?: Clock;
  readonly refreshMs?: number;
  readonly metrics?: RemoteClusterMetrics;
}

/** Where tunnels for a PortForward go. */
export interface TunnelEndpoint {
  readonly kubeConfig: KubeConnection;
  readonly namespace: string;
  /** "local", or the remote API server's address: the `cluster` label of metrics. */
  readonly cluster: string;
}

/** The kinds a target resolves through: what a remote cluster must watch for it, and no more. */
export function kindsFor(target: Target): CacheKind[] {
  if (target.service !== undefined) return ["pods", "services", "endpointslices"];
  if (target.workload !== undefined) {
    const kind = `${target.workload.kind.toLowerCase()}s` as CacheKind;
    return ["pods", kind];
  }
  return ["pods"];
}

interface Shared {
  readonly cluster: RemoteCluster;
  readonly users: Set<string>;
  readonly stop: AbortController;
}

export class TargetSources {
  readonly #options: TargetSourcesOptions;
  readonly #shared = new Map<string, Shared>();
  /** PortForward key → id of the remote cluster it uses. */
  readonly #uses = new Map<string, string>();
  #signal: AbortSignal | undefined;

  constructor(options: TargetSourcesOptions) {
    this.#options = options;
  }

  /** Remote clusters start only after this and stop when `signal` aborts. */
  start(signal: AbortSignal): void {
    this.#signal = signal;
    signal.addEventListener("abort", () => this.#shared.clear(), { once: true });
  }

  /** What resolution sees for `pf`; acquires its remote cluster, releasing the one it used before. */
  observe(key: string, pf: PortForward): TargetObservation {
    const namespace = pf.metadata.namespace ?? "";
    const remote = this.#remoteFor(key, pf);
    this.#options.metrics?.clusterOf(key, remote === undefined ? "local" : (remote.server ?? "unknown"));
    return remote === undefined ? this.#options.cache.observationFor(namespace) : remote.observation();
  }

  /** Where `pf`'s tunnels go, or undefined while its remote cluster has no valid credentials. */
  tunnelEndpoint(key: string, pf: PortForward): TunnelEndpoint | undefined {
    const remote = this.#remoteFor(key, pf);
    if (remote === undefined) return { kubeConfig: this.#options.kubeConfig, namespace: pf.metadata.namespace ?? "", cluster: "local" };
    const { kubeConfig, namespace, server } = remote;
    return kubeConfig === undefined || namespace === undefined || server === undefined
      ? undefined
      : { kubeConfig, namespace, cluster: server };
  }

  /** The remote API server refused a tunnel of `key` (401/403): re-read its Secret now. */
  credentialsRefused(key: string): void {
    const id = this.#uses.get(key);
    if (id !== undefined) this.#shared.get(id)?.cluster.refreshSoon();
  }

  /** `key` is gone (deleted, or no longer served here). */
  release(key: string): void {
    this.#options.metrics?.clusterOf(key, undefined);
    this.#leave(key);
  }

  /** `key` stops using its remote cluster, which stops when it was the last user. */
  #leave(key: string): void {
    const id = this.#uses.get(key);
    if (id === undefined) return;
    this.#uses.delete(key);
    const shared = this.#shared.get(id);
    shared?.users.delete(key);
    if (shared !== undefined && shared.users.size === 0) {
      shared.stop.abort();
      this.#shared.delete(id);
    }
  }

  #remoteFor(key: string, pf: PortForward): RemoteCluster | undefined {
    const ref = pf.spec.cluster?.kubeconfigSecretRef;
    if (ref === undefined) {
      this.#leave(key);
      return undefined;
    }
    const secret = { namespace: pf.metadata.namespace ?? "", name: ref.name, key: ref.key };
    const kinds = kindsFor(pf.spec.target);
    const remoteNamespace = pf.spec.cluster?.namespace;
    const id = JSON.stringify([secret.namespace, secret.name, secret.key, remoteNamespace ?? "", kinds]);
    if (this.#uses.get(key) !== id) {
      this.#leave(key);
      this.#uses.set(key, id);
    }
    let shared = this.#shared.get(id);
    if (shared === undefined) {
      const stop = new AbortController();
      const users = new Set<string>();
      const cluster = new RemoteCluster({
        kubeConfig: this.#options.kubeConfig,
        secret,
        ...(remoteNamespace === undefined ? {} : { namespace: remoteNamespace }),
        kinds,
        checkAccess: this.#options.checkAccess,
        log: this.#options.log.child({ remoteSecret: `${secret.namespace}/${secret.name}` }),
        onChange: () => this.#options.onChange([...users]),
        ...(this.#options.clock === undefined ? {} : { clock: this.#options.clock }),
        ...(this.#options.refreshMs === undefined ? {} : { refreshMs: this.#options.refreshMs }),
        ...(this.#options.metrics === undefined ? {} : { metrics: this.#options.metrics }),
      });
      shared = { cluster, users, stop };
      this.#shared.set(id, shared);
      const signal = this.#signal;
      if (signal !== undefined && !signal.aborted) {
        signal.addEventListener("abort", () => stop.abort(), { once: true });
        void cluster.run(stop.signal);
      }
    }
    shared.users.add(key);
    return shared.cluster;
  }
}
