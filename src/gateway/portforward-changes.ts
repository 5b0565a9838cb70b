/**
 * Which changes of a PortForward the gateway syncs (pure), like the controller's
 * (controller/portforward-changes.ts). Every status write of the controller and of every gateway
 * replica, this one's included, comes back through the watch as an update; a sync re-resolves the
 * targets from the cache, which at 1,000 PortForwards in one namespace is what the gateway spent
 * most of its CPU on (bench `controller --live-tunnels --cpu-profile`: about 7 syncs per
 * PortForward, a third of the busy time). A sync reads only the spec (generation), the identity and
 * deletion, and the annotations (a reconcile request) of the PortForward; its gateway ports and
 * assignment come from its Service and EndpointSlice (gateway-bindings.ts), whose changes reach the
 * sync through their own handlers, as those of pods and workloads do. So no status update is synced.
 */
import { specOrIdentityChanged } from "../runtime/object-changes.ts";
import type { KubeObject } from "../runtime/store.ts";

/** Whether the update from `old` to `next` may change what the gateway serves for it. */
export function concernsGateway(old: KubeObject | undefined, next: KubeObject | undefined): boolean {
  if (old === undefined || next === undefined) return true;
  return specOrIdentityChanged(old, next);
}
