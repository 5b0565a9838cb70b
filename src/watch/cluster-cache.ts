/**
 * The informers both the controller and the gateway read from: PortForwards and everything a
 * target can resolve through (Pods, Services, EndpointSlices, Deployments, StatefulSets,
 * ReplicaSets, DaemonSets), each indexed by namespace.
 *
 * Pods are kept as target resolution reads them (targets/target-pod.ts), cut down as each list
 * page and watch event arrives; the other kinds are kept whole (without managedFields).
 *
 * Scope: all namespaces, or one informer per kind per listed namespace (`--namespace`), so the
 * RBAC a user grants can be namespaced too. Handlers receive the changed object's key and its
 * old/new versions; mapping a change to the PortForwards it concerns is the caller's business.
 */
import type { V1DaemonSet, V1Deployment, V1EndpointSlice, V1Pod, V1ReplicaSet, V1Service, V1StatefulSet } from "@kubernetes/client-node";
import { API_VERSION, KIND, PLURAL } from "../api/identity.ts";
import type { PortForward } from "../api/portforward.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isGone } from "../kube/errors.ts";
import { kubeListWatch } from "../kube/list-watch.ts";
import { type ChangeHandler, Informer, type InformerObserver } from "../runtime/informer.ts";
import { byNamespace, type KubeObject } from "../runtime/store.ts";
import type { TargetObservation } from "../targets/resolve-targets.ts";
import { targetPod } from "../targets/target-pod.ts";

const NAMESPACE_INDEX = "namespace";

/** One kind, watched in every namespace in scope. */
export class KindCache<T extends KubeObject> {
  readonly informers: readonly Informer<T>[];

  constructor(informers: readonly Informer<T>[]) {
    this.informers = informers;
  }

  get(key: string): T | undefined {
    for (const informer of this.informers) {
      const object = informer.store.get(key);
      if (object !== undefined) return object;
    }
    return undefined;
  }

  inNamespace(namespace: string): T[] {
    return this.informers.flatMap((informer) => informer.store.byIndex(NAMESPACE_INDEX, namespace));
  }

  list(): T[] {
    return this.informers.flatMap((informer) => informer.store.list());
  }

  addHandler(handler: ChangeHandler<T>): void {
    for (const informer of this.informers) informer.addHandler(handler);
  }

  get synced(): boolean {
    return this.informers.every((informer) => informer.synced);
  }
}

interface KindSpec<T extends KubeObject> {
  readonly apiVersion: string;
  readonly plural: string;
  readonly kind: string;
  /** What of each object the cache keeps (kube/list-watch.ts); default all of it. */
  readonly transform?: (object: T) => T;
}

/** The kinds a cache can watch; a cache watches all unless told otherwise. */
export const CACHE_KINDS = [
  "portforwards",
  "pods",
  "services",
  "endpointslices",
  "deployments",
  "statefulsets",
  "replicasets",
  "daemonsets",
] as const;
export type CacheKind = (typeof CACHE_KINDS)[number];

export interface ClusterCacheOptions {
  readonly kubeConfig: KubeConnection;
  /** Kinds to watch (default all); the others stay empty and count as synced. */
  readonly kinds?: readonly CacheKind[];
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly observer?: (kind: string) => InformerObserver;
  /** Page size of initial lists (default 500; pods, cut down as they arrive, 100: kube/list-watch.ts). */
  readonly pageSize?: number;
}

export class ClusterCache {
  readonly portForwards: KindCache<PortForward & KubeObject>;
  readonly pods: KindCache<V1Pod & KubeObject>;
  readonly services: KindCache<V1Service & KubeObject>;
  readonly endpointSlices: KindCache<V1EndpointSlice & KubeObject>;
  readonly deployments: KindCache<V1Deployment & KubeObject>;
  readonly statefulSets: KindCache<V1StatefulSet & KubeObject>;
  readonly replicaSets: KindCache<V1ReplicaSet & KubeObject>;
  readonly daemonSets: KindCache<V1DaemonSet & KubeObject>;
  readonly #all: KindCache<KubeObject>[];

  constructor(options: ClusterCacheOptions) {
    const kinds = new Set<string>(options.kinds ?? CACHE_KINDS);
    const make = <T extends KubeObject>(spec: KindSpec<T>): KindCache<T> => {
      if (!kinds.has(spec.plural)) return new KindCache<T>([]);
      const scopes = options.namespaces.length === 0 ? [undefined] : options.namespaces;
      return new KindCache(
        scopes.map(
          (namespace) =>
            new Informer<T>({
              name: namespace === undefined ? spec.plural : `${spec.plural}/${namespace}`,
              ...kubeListWatch<T>(
                options.kubeConfig,
                { apiVersion: spec.apiVersion, plural: spec.plural, kind: spec.kind, namespace, pageSize: options.pageSize },
                spec.transform,
              ),
              errors: { isGone },
              indexers: { [NAMESPACE_INDEX]: byNamespace },
              ...(options.observer ? { observer: options.observer(spec.plural) } : {}),
            }),
        ),
      );
    };
    this.portForwards = make({ apiVersion: API_VERSION, plural: PLURAL, kind: KIND });
    this.pods = make<V1Pod & KubeObject>({ apiVersion: "v1", plural: "pods", kind: "Pod", transform: targetPod });
    this.services = make({ apiVersion: "v1", plural: "services", kind: "Service" });
    this.endpointSlices = make({ apiVersion: "discovery.k8s.io/v1", plural: "endpointslices", kind: "EndpointSlice" });
    this.deployments = make({ apiVersion: "apps/v1", plural: "deployments", kind: "Deployment" });
    this.statefulSets = make({ apiVersion: "apps/v1", plural: "statefulsets", kind: "StatefulSet" });
    this.replicaSets = make({ apiVersion: "apps/v1", plural: "replicasets", kind: "ReplicaSet" });
    this.daemonSets = make({ apiVersion: "apps/v1", plural: "daemonsets", kind: "DaemonSet" });
    this.#all = [
      this.portForwards,
      this.pods,
      this.services,
      this.endpointSlices,
      this.deployments,
      this.statefulSets,
      this.replicaSets,
      this.daemonSets,
    ] as KindCache<KubeObject>[];
  }

  /** What target resolution needs to see of one namespace. */
  observationFor(namespace: string): TargetObservation {
    return {
      pods: this.pods.inNamespace(namespace),
      services: this.services.inNamespace(namespace),
      endpointSlices: this.endpointSlices.inNamespace(namespace),
      deployments: this.deployments.inNamespace(namespace),
      statefulSets: this.statefulSets.inNamespace(namespace),
      replicaSets: this.replicaSets.inNamespace(namespace),
      daemonSets: this.daemonSets.inNamespace(namespace),
    };
  }

  /** Calls `handler` after any change of any watched kind. */
  addHandlerToAll(handler: ChangeHandler<KubeObject>): void {
    for (const kind of this.#all) kind.addHandler(handler);
  }

  get synced(): boolean {
    return this.#all.every((kind) => kind.synced);
  }

  /** Runs every informer until `signal` aborts; resolves `synced` through `hasSynced()`. */
  start(signal: AbortSignal): Promise<void> {
    return Promise.all(this.#all.flatMap((kind) => kind.informers.map((informer) => informer.start(signal)))).then(() => undefined);
  }

  /** Resolves once every informer has listed once. */
  hasSynced(): Promise<void> {
    return Promise.all(this.#all.flatMap((kind) => kind.informers.map((informer) => informer.hasSynced()))).then(() => undefined);
  }
}
