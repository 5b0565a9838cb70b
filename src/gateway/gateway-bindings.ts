/**
 * What the controller hands the gateway replicas for one PortForward, read from the objects it
 * applies in the PortForward's namespace (pure):
 * - the gateway ports: its Service's ports (port → targetPort, the allocated gateway port) and,
 *   with spec.service.perPod, each per-pod Service's, pinned to that Service's pod;
 * - which replicas keep tunnels open: the EndpointSlice's ANNOTATION_ASSIGNED_GATEWAYS
 *   (api/identity.ts), absent meaning every replica.
 * Until both the Service and its EndpointSlice are in the cache (and are this PortForward's), the
 * controller has not reconciled it: there are no bindings, so the gateway neither listens nor
 * dials (gateway.ts says why it must not dial then).
 *
 * Why these objects and not status.ports and status.assignedGateways, which say the same: the
 * controller applies them before it writes any status, so a gateway can open its tunnels and
 * report on a new PortForward before the controller's first status write, and that write can then
 * already say Ready (controller/first-status-hold.ts). That is one status write fewer per new
 * PortForward, the API server's costliest request in a burst (docs/benchmarks.md).
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { ANNOTATION_ASSIGNED_GATEWAYS } from "../api/identity.ts";
import { isServiceOwnedBy, podOfService } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import type { ForwarderBinding } from "./forwarder.ts";

export interface HandedObjects {
  /** The Service named serviceNameOf(pf) in the PortForward's namespace, if cached. */
  readonly service: V1Service | undefined;
  /** The EndpointSlice named endpointSliceNameOf(pf) there, if cached. */
  readonly endpointSlice: V1EndpointSlice | undefined;
  /** The namespace's Services, read only with spec.service.perPod (for the per-pod ones). */
  readonly services: () => readonly V1Service[];
}

export interface GatewayBindings {
  /** The listeners: spec port → gateway port; a per-pod Service's pinned to its pod. Empty: not reconciled yet. */
  readonly bindings: readonly ForwarderBinding[];
  /** The replicas that keep tunnels open; undefined: every replica. */
  readonly assignedGateways: readonly string[] | undefined;
}

const NOT_HANDED: GatewayBindings = { bindings: [], assignedGateways: undefined };

export function gatewayBindingsOf(pf: PortForward, handed: HandedObjects): GatewayBindings {
  const { service, endpointSlice } = handed;
  if (service === undefined || endpointSlice === undefined) return NOT_HANDED;
  if (!isServiceOwnedBy(service, pf) || !isServiceOwnedBy(endpointSlice, pf)) return NOT_HANDED;
  const perPod = pf.spec.service.perPod
    ? handed.services().flatMap((s) => {
        const pod = podOfService(s, pf);
        return pod === undefined || !isServiceOwnedBy(s, pf) ? [] : listenersOf(s).map((b) => ({ ...b, pod }));
      })
    : [];
  const assigned = endpointSlice.metadata?.annotations?.[ANNOTATION_ASSIGNED_GATEWAYS];
  return {
    bindings: [...listenersOf(service), ...perPod.sort(byPodThenPort)],
    assignedGateways: assigned === undefined ? undefined : assigned.split(",").filter((pod) => pod !== ""),
  };
}

/** Whether replica `pod` keeps the PortForward's tunnels open (else it stands by: forwarder.ts). */
export function isAssignedGateway(bindings: GatewayBindings, pod: string): boolean {
  return bindings.assignedGateways === undefined || bindings.assignedGateways.includes(pod);
}

/** A Service's ports as listeners: port → targetPort (a gateway port is always a number). */
function listenersOf(service: V1Service): ForwarderBinding[] {
  return (service.spec?.ports ?? []).flatMap((p) => (typeof p.targetPort === "number" ? [{ port: p.port, listenPort: p.targetPort }] : []));
}

function byPodThenPort(a: ForwarderBinding, b: ForwarderBinding): number {
  return (a.pod ?? "").localeCompare(b.pod ?? "") || a.port - b.port;
}
