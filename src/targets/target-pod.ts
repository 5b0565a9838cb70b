/**
 * The part of a Pod that target resolution reads (resolve-targets.ts), as the cluster cache keeps
 * pods: name, namespace, uid, resourceVersion, labels and deletionTimestamp; each container's name
 * and ports (and of sidecars, init containers with restartPolicy Always, their restartPolicy too);
 * the phase and each condition's type and status. Everything else a Pod carries (images, env,
 * volumes, tolerations, container statuses: some 3-8 KiB) is dropped as it arrives
 * (kube/list-watch.ts `transform`), so a gateway or controller watching a cluster's pods holds a
 * fraction of them (issue #15: idle gateway RSS with 1,000 pods in the cluster).
 *
 * Contract: resolve-targets.ts and the change handlers of watch/portforward-keys.ts read no field
 * of a cached pod that this does not keep; a reader of another field adds it here first (the unit
 * test lists what is kept).
 */
import type { V1Container, V1Pod, V1PodCondition } from "@kubernetes/client-node";

function containerOf(container: V1Container, withRestartPolicy: boolean): V1Container {
  return {
    name: container.name,
    ...(container.ports === undefined ? {} : { ports: container.ports }),
    ...(withRestartPolicy && container.restartPolicy !== undefined ? { restartPolicy: container.restartPolicy } : {}),
  };
}

/** Pure: `pod` cut down to what target resolution reads (see the header). */
export function targetPod<T extends V1Pod>(pod: T): T {
  const metadata = pod.metadata;
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  const conditions = pod.status?.conditions?.map((c): V1PodCondition => ({ type: c.type, status: c.status }));
  const kept: V1Pod = {
    ...(pod.apiVersion === undefined ? {} : { apiVersion: pod.apiVersion }),
    ...(pod.kind === undefined ? {} : { kind: pod.kind }),
    metadata: {
      ...(metadata?.name === undefined ? {} : { name: metadata.name }),
      ...(metadata?.namespace === undefined ? {} : { namespace: metadata.namespace }),
      ...(metadata?.uid === undefined ? {} : { uid: metadata.uid }),
      ...(metadata?.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
      ...(metadata?.labels === undefined ? {} : { labels: metadata.labels }),
      ...(metadata?.deletionTimestamp === undefined ? {} : { deletionTimestamp: metadata.deletionTimestamp }),
    },
    spec: {
      containers: (pod.spec?.containers ?? []).map((c) => containerOf(c, false)),
      ...(sidecars.length === 0 ? {} : { initContainers: sidecars.map((c) => containerOf(c, true)) }),
    },
    status: {
      ...(pod.status?.phase === undefined ? {} : { phase: pod.status.phase }),
      ...(conditions === undefined ? {} : { conditions }),
    },
  };
  return kept as T;
}
