/**
 * The EndpointSlice that makes a PortForward's selectorless Service route to the gateway pods.
 *
 * Endpoints are the live gateway replicas that have a pod IP (a gateway run outside a pod, as in
 * local development, has none and is reached on its own address instead); ports carry the
 * Service port names and the allocated gateway ports. The slice is labelled with
 * `kubernetes.io/service-name` so kube-proxy and DNS find it, and with our
 * `endpointslice.kubernetes.io/managed-by` so the EndpointSlice controller leaves it alone.
 * Stated in full for server-side apply, like the Service.
 */
import { isIPv6 } from "node:net";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import {
  ANNOTATION_ASSIGNED_GATEWAYS,
  ENDPOINTSLICE_MANAGER,
  LABEL_ENDPOINTSLICE_MANAGED_BY,
  LABEL_SERVICE_NAME,
} from "../api/identity.ts";
import { endpointSliceNameOf, serviceNameOf } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import { byPod } from "../runtime/order.ts";
import type { PortAllocation } from "./allocate-ports.ts";
import { controllerReferenceTo, ownedServiceLabels } from "./desired-service.ts";

/** A live gateway replica as the controller sees it (from its heartbeat Lease). */
export interface GatewayEndpoint {
  readonly pod: string;
  readonly namespace: string;
  /** Empty when the replica does not run in a pod. */
  readonly ip: string;
}

/**
 * `assignedGateways`, when a tunnel budget names the serving replicas (assign-gateways.ts),
 * becomes the ANNOTATION_ASSIGNED_GATEWAYS annotation: the gateways read it from here, not from
 * status (gateway/gateway-bindings.ts says why).
 */
export function buildDesiredEndpointSlice(
  pf: PortForward,
  allocation: readonly PortAllocation[],
  gateways: readonly GatewayEndpoint[],
  assignedGateways?: readonly string[],
): V1EndpointSlice {
  const reachable = gateways.filter((g) => g.ip !== "").sort(byPod);
  // One slice holds one address family; IPv6-only clusters get an IPv6 slice.
  const ipv6 = reachable.length > 0 && reachable.every((g) => isIPv6(g.ip));
  const family = reachable.filter((g) => isIPv6(g.ip) === ipv6);
  const nameOf = new Map(pf.spec.ports.map((p) => [p.port, p.name]));
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: endpointSliceNameOf(pf),
      namespace: pf.metadata.namespace ?? "",
      labels: {
        [LABEL_SERVICE_NAME]: serviceNameOf(pf),
        [LABEL_ENDPOINTSLICE_MANAGED_BY]: ENDPOINTSLICE_MANAGER,
        ...ownedServiceLabels(pf),
      },
      ...(assignedGateways === undefined ? {} : { annotations: { [ANNOTATION_ASSIGNED_GATEWAYS]: assignedGateways.join(",") } }),
      ownerReferences: [controllerReferenceTo(pf)],
    },
    addressType: ipv6 ? "IPv6" : "IPv4",
    ports: allocation.map((a) => {
      const name = nameOf.get(a.port);
      return { ...(name === undefined ? { name: "" } : { name }), port: a.gatewayPort, protocol: "TCP" };
    }),
    endpoints: family.map((g) => ({
      addresses: [g.ip],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: "Pod", namespace: g.namespace, name: g.pod },
    })),
  };
}
