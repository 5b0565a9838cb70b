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
import { type PortForward, parsePortForward } from "../api/portforward.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isGone } from "../kube/errors.ts";
import { kubeListWatch } from "../kube/list-watch.ts";
import { type ChangeHandler, Informer, type InformerObserver } from "../runtime/informer.ts";
import { byNamespace, type IndexFunc, type KubeObject } from "../runtime/store.ts";
import type { TargetObservation } from "../targets/resolve-targets.ts";
import { targetPod } from "../targets/target-pod.ts";
import { PORTFORWARD_TARGET_INDEX, portForwardTargetValues } from "./portforward-target-index.ts";

/** The index every KindCache informer needs (`byNamespace`): inNamespace reads it. */
export const NAMESPACE_INDEX = "namespace";

/** One kind, watched in every namespace in scope. */
export class KindCache<T extends KubeObject> {
  readonly informers: readonly Informer<T>[];
  /**
   * namespace → its objects as inNamespace last returned them, until an object of that namespace
   * changes. Every reconcile and gateway sync lists its namespace; at 1,000 PortForwards in one
   * namespace, rebuilding those lists per call was a tenth of the gateway's busy time (bench
   * `controller --live-tunnels --cpu-profile`), while most kinds (pods, workloads) rarely change.
   */
  readonly #byNamespace = new Map<string, readonly T[]>();

  constructor(informers: readonly Informer<T>[]) {
    this.informers = informers;
    // Registered before any other handler, so every handler already sees the new lists.
    for (const informer of informers) {
      informer.addHandler(({ old, new: current }) => {
        this.#byNamespace.delete((current ?? old)?.metadata?.namespace ?? "");
      });
    }
  }

  get(key: string): T | undefined {
    for (const informer of this.informers) {
      const object = informer.store.get(key);
      if (object !== undefined) return object;
    }
    return undefined;
  }

  /** The objects of `namespace`; the same array until one of them changes, so never modify it. */
  inNamespace(namespace: string): readonly T[] {
    let objects = this.#byNamespace.get(namespace);
    if (objects === undefined) {
      objects = this.byIndex(NAMESPACE_INDEX, namespace);
      this.#byNamespace.set(namespace, objects);
    }
    return objects;
  }

  list(): T[] {
    return this.informers.flatMap((informer) => informer.store.list());
  }

  /** Objects whose index `index` (one the kind was built with) yields `value`. */
  byIndex(index: string, value: string): T[] {
    return this.informers.flatMap((informer) => informer.store.byIndex(index, value));
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
  /** Indexes besides the namespace's (KindCache.byIndex). */
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>>;
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
  /** parsePortForward per cached object (see parsedPortForward). */
  readonly #parsed = new WeakMap<KubeObject, ReturnType<typeof parsePortForward>>();

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
              indexers: { [NAMESPACE_INDEX]: byNamespace, ...spec.indexers },
              ...(options.observer ? { observer: options.observer(spec.plural) } : {}),
            }),
        ),
      );
    };
    this.portForwards = make<PortForward & KubeObject>({
      apiVersion: API_VERSION,
      plural: PLURAL,
      kind: KIND,
      indexers: { [PORTFORWARD_TARGET_INDEX]: portForwardTargetValues },
    });
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

  /**
   * What target resolution needs to see of one namespace. Each kind is listed when first read:
   * resolving a pod target reads the pods only (copying the object, e.g. with a spread, reads all).
   */
  observationFor(namespace: string): TargetObservation {
    const cache = this;
    return {
      get pods() {
        return cache.pods.inNamespace(namespace);
      },
      get services() {
        return cache.services.inNamespace(namespace);
      },
      get endpointSlices() {
        return cache.endpointSlices.inNamespace(namespace);
      },
      get deployments() {
        return cache.deployments.inNamespace(namespace);
      },
      get statefulSets() {
        return cache.statefulSets.inNamespace(namespace);
      },
      get replicaSets() {
        return cache.replicaSets.inNamespace(namespace);
      },
      get daemonSets() {
        return cache.daemonSets.inNamespace(namespace);
      },
    };
  }

  /**
   * parsePortForward of an object of `portForwards`, parsed once per object: the cache replaces
   * an object on every change, and a reconcile or gateway sync of an unchanged one parsed it
   * again (the schema's parse was a twentieth of the gateway's busy time at 1,000 PortForwards).
   * The value is shared by every caller, so it must not be modified.
   */
  parsedPortForward(object: PortForward & KubeObject): ReturnType<typeof parsePortForward> {
    let parsed = this.#parsed.get(object);
    if (parsed === undefined) {
      parsed = parsePortForward(object);
      this.#parsed.set(object, parsed);
    }
    return parsed;
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
