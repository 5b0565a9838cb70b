/**
 * Per-pod Services (spec.service.perPod): with it on, every target pod gets a Service of its own
 * next to the PortForward's Service, routing only to that pod. Pure: from the PortForward, its
 * resolved targets, the gateway-port claims and the Services of its namespace, planPodServices
 * says which per-pod Services (each with its EndpointSlice) to apply and what status.podServices
 * lists; obsoletePodObjects says which of the PortForward's per-pod objects to delete.
 *
 * How a per-pod Service routes to one pod: like the PortForward's Service it has no selector and
 * an EndpointSlice of the gateway pods, but its ports target gateway ports of its own, allocated
 * per (pod, port) under podOwnerKey (allocate-ports.ts: recorded in the Service itself, so they
 * survive restarts). The gateways read status.podServices and listen on those ports with a
 * binding pinned to the pod (gateway.ts forwarderSpecFor): a pod that is not ready gets its
 * connections held and then reset, exactly as a PortForward with no ready pod.
 *
 * Contracts:
 * - only when the PortForward's own Service can be applied (no name conflict, ports allocated);
 * - the first MAX_POD_SERVICES target pods by name, ready or not (a restarting StatefulSet member
 *   keeps its Service and its gateway ports);
 * - a name that a Service the PortForward does not own already has is never taken over: that pod
 *   gets no Service (and no status entry) until the name is free;
 * - names: pod-service-names.ts.
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { LABEL_POD } from "../api/identity.ts";
import { podOfService } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import type { PodServiceStatus } from "../api/status.ts";
import {
  allocateGatewayPorts,
  type GatewayPortClaimsInput,
  type GatewayPortRecord,
  gatewayPortClaimList,
  ownerKey,
  type PortAllocation,
  type PortRange,
  podOwnerKey,
} from "./allocate-ports.ts";
import { buildDesiredEndpointSlice, type GatewayEndpoint } from "./desired-endpoint-slice.ts";
import { buildDesiredService } from "./desired-service.ts";
import { podServiceNames } from "./pod-service-names.ts";

/** At most this many target pods (the first by name) get a Service of their own. */
export const MAX_POD_SERVICES = 256;

export interface PodServiceInput {
  readonly portForward: PortForward;
  /** The PortForward's own Service name and gateway ports (already allocated). */
  readonly serviceName: string;
  readonly allocation: readonly PortAllocation[];
  /** Resolved target pods. */
  readonly pods: readonly string[];
  /** Services of the PortForward's namespace (to keep names and to detect names taken by others). */
  readonly services: readonly V1Service[];
  /** Whether a Service is this PortForward's (plan.ts isServiceOwnedBy). */
  readonly isOwned: (service: V1Service) => boolean;
  readonly gatewayPortRecords: GatewayPortClaimsInput;
  readonly gatewayPortRange?: PortRange;
  readonly gatewayEndpoints: readonly GatewayEndpoint[];
}

export interface DesiredPodService {
  readonly pod: string;
  readonly service: V1Service;
  readonly endpointSlice: V1EndpointSlice;
}

export type PodServicePlan =
  | { readonly ok: true; readonly objects: readonly DesiredPodService[]; readonly status: readonly PodServiceStatus[] }
  | { readonly ok: false; readonly message: string };

const NONE: PodServicePlan = { ok: true, objects: [], status: [] };

export function planPodServices(input: PodServiceInput): PodServicePlan {
  const { portForward: pf } = input;
  if (!pf.spec.service.perPod) return NONE;
  const inNamespace = (s: V1Service) => pf.metadata.namespace === undefined || s.metadata?.namespace === pf.metadata.namespace;
  const byName = new Map(input.services.filter(inNamespace).map((s) => [s.metadata?.name ?? "", s]));
  const existing = new Map<string, string>();
  for (const [name, service] of byName) {
    const pod = input.isOwned(service) ? podOfService(service, pf) : undefined;
    if (pod !== undefined) existing.set(name, pod);
  }
  const pods = [...new Set(input.pods)].sort().slice(0, MAX_POD_SERVICES);
  const names = podServiceNames(input.serviceName, pods, existing);

  const owner = ownerKey(pf.metadata.namespace, pf.metadata.name);
  // The PortForward's own ports are settled first and win every conflict (since -∞); each pod's
  // allocation then joins the claims, so no two of this PortForward's pods share a port either.
  const claims: GatewayPortRecord[] = [
    ...gatewayPortClaimList(input.gatewayPortRecords).filter((r) => r.owner !== owner),
    ...input.allocation.map((a) => ({ owner, port: a.port, gatewayPort: a.gatewayPort, since: Number.NEGATIVE_INFINITY })),
  ];
  const objects: DesiredPodService[] = [];
  const status: PodServiceStatus[] = [];
  for (const pod of pods) {
    const name = names.get(pod)!;
    const taken = byName.get(name);
    if (taken !== undefined && (!input.isOwned(taken) || podOfService(taken, pf) === undefined)) continue;
    const podOwner = podOwnerKey(owner, pod);
    const allocated = allocateGatewayPorts(podOwner, pf.spec.ports, claims, input.gatewayPortRange);
    if (!allocated.ok) return { ok: false, message: allocated.message };
    claims.push(
      ...allocated.ports.map((a) => ({ owner: podOwner, port: a.port, gatewayPort: a.gatewayPort, since: Number.NEGATIVE_INFINITY })),
    );
    objects.push(buildDesiredPodService(pf, pod, name, allocated.ports, input.gatewayEndpoints));
    status.push({ pod, service: name, ports: allocated.ports });
  }
  return { ok: true, objects, status };
}

/** The Service and EndpointSlice of `pod`: the PortForward's, renamed, on the pod's gateway ports. */
export function buildDesiredPodService(
  pf: PortForward,
  pod: string,
  name: string,
  allocation: readonly PortAllocation[],
  gateways: readonly GatewayEndpoint[],
): DesiredPodService {
  const renamed: PortForward = { ...pf, spec: { ...pf.spec, service: { ...pf.spec.service, name } } };
  const service = buildDesiredService(renamed, allocation);
  const endpointSlice = buildDesiredEndpointSlice(renamed, allocation, gateways);
  return {
    pod,
    service: { ...service, metadata: { ...service.metadata, labels: { ...service.metadata?.labels, [LABEL_POD]: pod } } },
    endpointSlice: {
      ...endpointSlice,
      metadata: { ...endpointSlice.metadata, labels: { ...endpointSlice.metadata?.labels, [LABEL_POD]: pod } },
    },
  };
}

/**
 * The names of the PortForward's per-pod Services and EndpointSlices that are not wanted (their
 * pod is no longer a target, it was renamed, or perPod is off): the controller deletes them.
 */
export function obsoletePodObjects(
  pf: PortForward,
  wanted: readonly DesiredPodService[],
  services: readonly V1Service[],
  endpointSlices: readonly V1EndpointSlice[],
  isOwned: (service: V1Service | V1EndpointSlice) => boolean,
): { services: string[]; endpointSlices: string[] } {
  const wantedServices = new Set(wanted.map((w) => w.service.metadata?.name));
  const wantedSlices = new Set(wanted.map((w) => w.endpointSlice.metadata?.name));
  const stale = <T extends V1Service | V1EndpointSlice>(objects: readonly T[], keep: ReadonlySet<string | undefined>) =>
    objects
      .filter((o) => o.metadata?.namespace === pf.metadata.namespace && podOfService(o, pf) !== undefined && isOwned(o))
      .map((o) => o.metadata?.name ?? "")
      .filter((name) => name !== "" && !keep.has(name))
      .sort();
  return { services: stale(services, wantedServices), endpointSlices: stale(endpointSlices, wantedSlices) };
}
