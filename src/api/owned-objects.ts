/**
 * The objects the controller makes for a PortForward in its namespace — its Service, the
 * Service's EndpointSlice, and with spec.service.perPod one Service and slice per target pod —
 * as both sides read them: their names, whether one is a given PortForward's, and the pod a
 * per-pod one routes to. The controller applies them (controller/desired-*.ts); the gateways
 * read their gateway ports and assignment from them (gateway/gateway-bindings.ts). Pure.
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { KIND, LABEL_MANAGED_BY, LABEL_POD, LABEL_PORTFORWARD, MANAGED_BY_VALUE } from "./identity.ts";
import type { PortForward } from "./portforward.ts";

type OwnedObject = Pick<V1Service | V1EndpointSlice, "metadata">;

/** Name of the Service of a PortForward: spec.service.name, else the PortForward's name. */
export function serviceNameOf(pf: PortForward): string {
  return pf.spec.service.name ?? pf.metadata.name ?? "";
}

/** Name of the EndpointSlice of a PortForward's Service. */
export function endpointSliceNameOf(pf: PortForward): string {
  return `${serviceNameOf(pf)}-tunnelkeeper`.slice(0, 253);
}

/** Whether `object` is this PortForward's: controlled by it, or orphaned but labelled for it. */
export function isServiceOwnedBy(object: OwnedObject, pf: PortForward): boolean {
  const controller = object.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  if (controller !== undefined) {
    return (
      controller.kind === KIND &&
      (pf.metadata.uid === undefined ? controller.name === pf.metadata.name : controller.uid === pf.metadata.uid)
    );
  }
  const labels = object.metadata?.labels ?? {};
  return labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE && labels[LABEL_PORTFORWARD] === pf.metadata.name;
}

/** The pod a per-pod Service (or its slice) of `pf` routes to, or undefined for any other object. */
export function podOfService(object: OwnedObject, pf: PortForward): string | undefined {
  const labels = object.metadata?.labels ?? {};
  return labels[LABEL_PORTFORWARD] === pf.metadata.name ? labels[LABEL_POD] : undefined;
}
