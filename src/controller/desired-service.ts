/**
 * The Service a PortForward should have, stated in full for server-side apply: whatever is not
 * in the returned object is released by the controller's field manager and removed by the API
 * server if nobody else owns it.
 */
import type { V1OwnerReference, V1Service } from "@kubernetes/client-node";
import {
  API_VERSION,
  ARGOCD_INSTANCE_LABEL,
  ARGOCD_TRACKING_ANNOTATION,
  KIND,
  LABEL_MANAGED_BY,
  LABEL_PORTFORWARD,
  MANAGED_BY_VALUE,
} from "../api/identity.ts";
import { serviceNameOf } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import type { PortAllocation } from "./allocate-ports.ts";

function without(map: Readonly<Record<string, string>> | undefined, keys: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(map ?? {})) {
    if (!keys.includes(key)) result[key] = value;
  }
  return result;
}

/** Labels that identify a Service as belonging to a PortForward. */
export function ownedServiceLabels(pf: PortForward): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_PORTFORWARD]: pf.metadata.name ?? "" };
}

/**
 * Builds the desired Service: ports map `port → gatewayPort` on the gateway pods. The Service has
 * no selector: the gateway pods live in the operator's namespace, which a selector cannot reach,
 * so the controller lists them in an EndpointSlice of its own (desired-endpoint-slice.ts).
 * A controller owner reference makes garbage collection delete it with the PortForward. User labels and annotations come from spec.service only — never Argo CD's
 * tracking label or annotation, and never overriding tunnelkeeper's own labels.
 *
 * A LoadBalancer Service gets `loadBalancerSourceRanges` = the ipBlock CIDRs of spec.access (the
 * CRD requires at least one for NodePort and LoadBalancer), so the cloud load balancer drops
 * other sources before they reach a node; `except` ranges cannot be expressed there and are left
 * to the gateway. A NodePort has no such field: the gateway's check is what stands.
 */
export function buildDesiredService(pf: PortForward, allocation: readonly PortAllocation[]): V1Service {
  const labels = {
    ...without(pf.spec.service.labels, [ARGOCD_INSTANCE_LABEL]),
    ...ownedServiceLabels(pf),
  };
  const annotations = without(pf.spec.service.annotations, [ARGOCD_TRACKING_ANNOTATION]);
  const gatewayPortOf = new Map(allocation.map((a) => [a.port, a.gatewayPort]));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: serviceNameOf(pf),
      namespace: pf.metadata.namespace ?? "",
      labels,
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
      ownerReferences: [controllerReferenceTo(pf)],
    },
    spec: {
      type: pf.spec.service.type,
      ...(pf.spec.service.type === "LoadBalancer" ? { loadBalancerSourceRanges: ipBlockRanges(pf) } : {}),
      // An explicitly empty selector: spec.selector is an atomic map, so applying it with force
      // takes the whole field over and removes a selector someone else added (which would make
      // the EndpointSlice controller route this Service to the selected pods, bypassing the
      // gateways). Omitting it would leave such a selector in place.
      selector: {},
      ports: pf.spec.ports.map((port) => {
        const gatewayPort = gatewayPortOf.get(port.port);
        if (gatewayPort === undefined) throw new Error(`no gateway port allocated for port ${port.port}`);
        return {
          ...(port.name === undefined ? {} : { name: port.name }),
          port: port.port,
          targetPort: gatewayPort,
          protocol: "TCP",
        };
      }),
    },
  };
}

function ipBlockRanges(pf: PortForward): string[] {
  return (pf.spec.access?.from ?? []).flatMap((peer) => (peer.ipBlock === undefined ? [] : [peer.ipBlock.cidr]));
}

/** The owner reference that makes `pf` the controller of an object (garbage collection). */
export function controllerReferenceTo(pf: PortForward): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: pf.metadata.name ?? "",
    uid: pf.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}
