/**
 * The gateway's peer cache: which pod a client's source address belongs to, and the labels of
 * namespaces, for the access decision (access-decision.ts). Lean by construction: list and
 * watch objects are cut down as they arrive (kube/list-watch.ts `transform`, each list page on
 * its own, so a list never holds every full Pod of the cluster at once), and the store holds per
 * pod only its name, namespace, labels and IPs, and per namespace only its name and labels (a
 * full Pod object is some 4-8 KiB; the slim one is its labels plus about 200 bytes).
 *
 * Contracts:
 * - An address is attributed only to a pod that is not hostNetwork (those share the node's
 *   address with everything SNATed on the node) and not Succeeded/Failed (its IP may already be
 *   reused). An address two such pods claim at once (IP reuse in flight) is not attributed.
 *   Unattributed sources are denied unless an ipBlock admits them (fail closed).
 * - Scope: pods of every namespace, or of the listed namespaces only (a namespaced install);
 *   clients in other namespaces are then unattributable. Namespaces are cluster-scoped: their
 *   informer always lists all of them (get/list/watch on namespaces, read-only).
 */
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { KubeConnection } from "../kube/connection.ts";
import { isGone } from "../kube/errors.ts";
import { kubeListWatch } from "../kube/list-watch.ts";
import { Informer, type InformerObserver } from "../runtime/informer.ts";
import type { KubeObject } from "../runtime/store.ts";
import { normalizeAddress, type PeerPod } from "./access-decision.ts";

/** The slim pod the store keeps. */
export interface SlimPod extends KubeObject {
  readonly metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  /** Addresses this pod may be attributed by; empty for hostNetwork and finished pods. */
  readonly ips: readonly string[];
}

export interface SlimNamespace extends KubeObject {
  readonly metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
}

/** Pure: the part of a Pod the access decision needs. */
export function slimPod(pod: V1Pod): SlimPod {
  const phase = pod.status?.phase;
  const attributable = pod.spec?.hostNetwork !== true && phase !== "Succeeded" && phase !== "Failed";
  const ips = attributable
    ? [...new Set([...(pod.status?.podIPs ?? []).map((p) => p.ip), pod.status?.podIP].filter((ip): ip is string => !!ip))].map(
        normalizeAddress,
      )
    : [];
  return {
    metadata: {
      name: pod.metadata?.name ?? "",
      namespace: pod.metadata?.namespace ?? "",
      ...(pod.metadata?.resourceVersion === undefined ? {} : { resourceVersion: pod.metadata.resourceVersion }),
      ...(pod.metadata?.labels === undefined ? {} : { labels: pod.metadata.labels }),
    },
    ips,
  };
}

export function slimNamespace(namespace: V1Namespace): SlimNamespace {
  return {
    metadata: {
      name: namespace.metadata?.name ?? "",
      ...(namespace.metadata?.resourceVersion === undefined ? {} : { resourceVersion: namespace.metadata.resourceVersion }),
      ...(namespace.metadata?.labels === undefined ? {} : { labels: namespace.metadata.labels }),
    },
  };
}

const IP_INDEX = "ip";

export interface PeerCacheOptions {
  readonly kubeConfig: KubeConnection;
  /** Empty: pods of all namespaces. */
  readonly namespaces: readonly string[];
  readonly observer?: (kind: string) => InformerObserver;
  readonly pageSize?: number;
}

export class PeerCache {
  readonly #pods: Informer<SlimPod>[];
  readonly #namespaces: Informer<SlimNamespace>;

  constructor(options: PeerCacheOptions) {
    const scopes = options.namespaces.length === 0 ? [undefined] : options.namespaces;
    this.#pods = scopes.map(
      (namespace) =>
        new Informer<SlimPod>({
          name: namespace === undefined ? "peer-pods" : `peer-pods/${namespace}`,
          ...kubeListWatch<V1Pod & KubeObject, SlimPod>(
            options.kubeConfig,
            { apiVersion: "v1", plural: "pods", kind: "Pod", namespace, pageSize: options.pageSize },
            slimPod,
          ),
          errors: { isGone },
          indexers: { [IP_INDEX]: (pod) => pod.ips },
          ...(options.observer ? { observer: options.observer("peer-pods") } : {}),
        }),
    );
    this.#namespaces = new Informer<SlimNamespace>({
      name: "peer-namespaces",
      ...kubeListWatch<V1Namespace & KubeObject, SlimNamespace>(
        options.kubeConfig,
        { apiVersion: "v1", plural: "namespaces", kind: "Namespace", pageSize: options.pageSize },
        slimNamespace,
      ),
      errors: { isGone },
      ...(options.observer ? { observer: options.observer("peer-namespaces") } : {}),
    });
  }

  /** The pod behind `address`, if exactly one attributable pod has it. */
  lookup(address: string): PeerPod | undefined {
    const ip = normalizeAddress(address);
    let found: SlimPod | undefined;
    for (const informer of this.#pods) {
      for (const pod of informer.store.byIndex(IP_INDEX, ip)) {
        if (found !== undefined) return undefined;
        found = pod;
      }
    }
    return found === undefined
      ? undefined
      : { namespace: found.metadata.namespace, name: found.metadata.name, labels: found.metadata.labels ?? {} };
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.#namespaces.store.get(namespace)?.metadata.labels;
  }

  get synced(): boolean {
    return this.#namespaces.synced && this.#pods.every((i) => i.synced);
  }

  start(signal: AbortSignal): Promise<void> {
    return Promise.all([this.#namespaces.start(signal), ...this.#pods.map((i) => i.start(signal))]).then(() => undefined);
  }

  hasSynced(): Promise<void> {
    return Promise.all([this.#namespaces.hasSynced(), ...this.#pods.map((i) => i.hasSynced())]).then(() => undefined);
  }
}
