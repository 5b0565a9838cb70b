/**
 * Maps changes in the cluster cache to the PortForward keys they concern, for a work queue.
 * Shared by the controller and the gateway, which react to the same changes.
 *
 * - a PortForward: itself;
 * - a Service or EndpointSlice labelled tunnelkeeper.io/portforward (ours): its owner (the
 *   controller repairs drift in them; the gateways read their gateway ports and assignment there);
 * - a Pod, Service, EndpointSlice (by its kubernetes.io/service-name) or workload: every
 *   PortForward in its namespace whose target could resolve through it (`mayResolveThrough`).
 */
import { LABEL_PORTFORWARD, LABEL_SERVICE_NAME } from "../api/identity.ts";
import { type KubeObject, objectKey } from "../runtime/store.ts";
import { mayResolveThrough, type TargetKind } from "../targets/resolve-targets.ts";
import type { ClusterCache } from "./cluster-cache.ts";
import { anyPodValue, PORTFORWARD_TARGET_INDEX, podValue, selectorValue, serviceValue, workloadValue } from "./portforward-target-index.ts";

export interface ConcernedOptions {
  /** Whether an update of a PortForward concerns the caller; default every change does. */
  readonly portForwardChanged?: (old: KubeObject | undefined, next: KubeObject | undefined) => boolean;
}

/** The kinds of a ClusterCache whose changes map to PortForward keys. */
export type ConcernedKinds = Pick<
  ClusterCache,
  "portForwards" | "pods" | "services" | "endpointSlices" | "deployments" | "statefulSets" | "replicaSets" | "daemonSets"
>;

export function enqueueConcernedPortForwards(cache: ConcernedKinds, enqueue: (key: string) => void, options: ConcernedOptions = {}): void {
  const candidates = (kind: TargetKind, namespace: string, name: string) => {
    const index = (value: string) => cache.portForwards.byIndex(PORTFORWARD_TARGET_INDEX, value);
    switch (kind) {
      case "pod":
        return [...index(podValue(namespace, name)), ...index(selectorValue(namespace)), ...index(anyPodValue(namespace))];
      case "service":
        return index(serviceValue(namespace, name));
      case "workload":
        return index(workloadValue(namespace, name));
    }
  };
  const concerned = (kind: TargetKind, object: KubeObject | undefined) => {
    const namespace = object?.metadata?.namespace;
    const name = object?.metadata?.name;
    if (namespace === undefined || name === undefined) return;
    for (const pf of candidates(kind, namespace, name)) {
      if (mayResolveThrough(pf, kind, name, object?.metadata?.labels)) enqueue(objectKey(pf));
    }
  };
  /** Whether `object` is a PortForward's own; if so its owner is enqueued. */
  const owner = (object: KubeObject | undefined): boolean => {
    const name = object?.metadata?.labels?.[LABEL_PORTFORWARD];
    if (name === undefined || object?.metadata?.namespace === undefined) return false;
    enqueue(`${object.metadata.namespace}/${name}`);
    return true;
  };

  const changed = options.portForwardChanged ?? (() => true);
  cache.portForwards.addHandler(({ key, old, new: pf }) => {
    if (changed(old, pf)) enqueue(key);
  });
  cache.services.addHandler(({ old, new: service }) => {
    owner(service ?? old);
    concerned("service", old);
    concerned("service", service);
  });
  cache.endpointSlices.addHandler(({ old, new: slice }) => {
    const object = slice ?? old;
    if (owner(object)) return;
    const service = object?.metadata?.labels?.[LABEL_SERVICE_NAME];
    if (service !== undefined) concerned("service", { metadata: { name: service, namespace: object?.metadata?.namespace } });
  });
  cache.pods.addHandler(({ old, new: pod }) => {
    concerned("pod", old);
    concerned("pod", pod);
  });
  for (const workloads of [cache.deployments, cache.statefulSets, cache.replicaSets, cache.daemonSets]) {
    workloads.addHandler(({ old, new: workload }) => concerned("workload", workload ?? old));
  }
}
