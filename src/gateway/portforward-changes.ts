/**
 * Which changes of a PortForward the gateway syncs (pure), like the controller's
 * (controller/portforward-changes.ts). Every status write of the controller and of every gateway
 * replica, this one's included, comes back through the watch as an update; a sync re-resolves the
 * targets from the cache, which at 1,000 PortForwards in one namespace is what the gateway spent
 * most of its CPU on (bench `controller --live-tunnels --cpu-profile`: about 7 syncs per
 * PortForward, a third of the busy time). A sync reads only the spec (generation), the identity and
 * deletion, the annotations (a reconcile request) and the status fields the controller hands the
 * gateways: `ports`, `podServices` and `assignedGateways`. An update that changes none of them
 * (conditions, the gateways' entries, totals) is skipped. Changes of pods, Services and workloads
 * still reach the sync through their own handlers.
 */
import { sameJson, specOrIdentityChanged } from "../runtime/object-changes.ts";
import type { KubeObject } from "../runtime/store.ts";

interface PortForwardLike extends KubeObject {
  readonly status?: { readonly ports?: unknown; readonly podServices?: unknown; readonly assignedGateways?: unknown };
}

/** Whether the update from `old` to `next` may change what the gateway serves for it. */
export function concernsGateway(old: PortForwardLike | undefined, next: PortForwardLike | undefined): boolean {
  if (old === undefined || next === undefined) return true;
  return (
    specOrIdentityChanged(old, next) ||
    !sameJson(old.status?.ports, next.status?.ports) ||
    !sameJson(old.status?.podServices, next.status?.podServices) ||
    !sameJson(old.status?.assignedGateways, next.status?.assignedGateways)
  );
}
