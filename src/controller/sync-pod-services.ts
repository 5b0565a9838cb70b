/**
 * The I/O half of per-pod Services (desired-pod-services.ts decides): apply each wanted per-pod
 * Service and EndpointSlice (through the reconciler's apply-if-changed, so unchanged objects are
 * not written), then delete this PortForward's per-pod objects that are no longer wanted.
 *
 * Deletion is the controller's job because the objects stay owned by a PortForward that still
 * exists; garbage collection removes them only with the PortForward. A 404 on delete counts as
 * deleted (someone, or the garbage collector, was first). Deletes run after the applies, so a
 * pod whose Service is renamed is never without one for longer than a reconcile.
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import type { PortForward } from "../api/portforward.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isNotFound } from "../kube/errors.ts";
import { kubeRequest, resourcePath } from "../kube/request.ts";
import { type DesiredPodService, obsoletePodObjects } from "./desired-pod-services.ts";

export interface PodServiceSync {
  readonly kubeConfig: KubeConnection;
  readonly portForward: PortForward;
  readonly desired: readonly DesiredPodService[];
  /** The cache's Services and EndpointSlices of the PortForward's namespace. */
  readonly services: readonly V1Service[];
  readonly endpointSlices: readonly V1EndpointSlice[];
  readonly isOwned: (object: V1Service | V1EndpointSlice) => boolean;
  readonly applyService: (service: V1Service) => Promise<unknown>;
  readonly applyEndpointSlice: (slice: V1EndpointSlice) => Promise<unknown>;
  readonly signal: AbortSignal | undefined;
}

/** Applies the wanted per-pod objects, deletes the others; returns the names deleted. */
export async function syncPodServices(sync: PodServiceSync): Promise<{ services: string[]; endpointSlices: string[] }> {
  await Promise.all(sync.desired.flatMap((d) => [sync.applyService(d.service), sync.applyEndpointSlice(d.endpointSlice)]));
  const obsolete = obsoletePodObjects(sync.portForward, sync.desired, sync.services, sync.endpointSlices, sync.isOwned);
  const namespace = sync.portForward.metadata.namespace;
  const remove = async (apiVersion: string, plural: string, name: string) => {
    try {
      await kubeRequest(sync.kubeConfig, {
        method: "DELETE",
        path: resourcePath({ apiVersion, plural, namespace, name }),
        signal: sync.signal,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  };
  await Promise.all([
    ...obsolete.services.map((name) => remove("v1", "services", name)),
    ...obsolete.endpointSlices.map((name) => remove("discovery.k8s.io/v1", "endpointslices", name)),
  ]);
  return obsolete;
}
