/**
 * Which PortForwards have per-pod Services or EndpointSlices in the cluster cache: objects
 * labelled tunnelkeeper.io/portforward and tunnelkeeper.io/pod (desired-pod-services.ts), by the
 * PortForward's key. Kept up to date by the cache's change handlers, so it says exactly what a
 * scan of the cache would say.
 *
 * Why: a reconcile deletes the per-pod objects that are no longer wanted, which takes a scan of
 * every Service and EndpointSlice of the namespace. Most PortForwards have none and want none;
 * for them the reconciler asks here and skips the scan (at 1,000 PortForwards in one namespace
 * the scan was about a fourteenth of the controller's busy time: bench `controller
 * --live-tunnels --cpu-profile`).
 */
import { LABEL_POD, LABEL_PORTFORWARD } from "../api/identity.ts";
import type { ChangeHandler } from "../runtime/informer.ts";
import type { KubeObject } from "../runtime/store.ts";

/** Where changes of one kind come from (a ClusterCache kind). */
export interface ChangeSource {
  addHandler(handler: ChangeHandler<KubeObject>): void;
}

export class PodObjectIndex {
  /** PortForward key → keys (`kind:namespace/name`) of its per-pod objects in the cache. */
  readonly #objects = new Map<string, Set<string>>();

  constructor(cache: { readonly services: ChangeSource; readonly endpointSlices: ChangeSource }) {
    const track =
      (kind: string): ChangeHandler<KubeObject> =>
      ({ key, old, new: next }) => {
        const objectKey = `${kind}:${key}`;
        const before = old === undefined ? undefined : portForwardOf(old);
        const after = next === undefined ? undefined : portForwardOf(next);
        if (before !== undefined && before !== after) this.#remove(before, objectKey);
        if (after !== undefined) this.#add(after, objectKey);
      };
    cache.services.addHandler(track("Service"));
    cache.endpointSlices.addHandler(track("EndpointSlice"));
  }

  /** Whether the cache holds a per-pod Service or EndpointSlice of PortForward `key` (`namespace/name`). */
  has(key: string): boolean {
    return this.#objects.has(key);
  }

  #add(portForward: string, objectKey: string): void {
    const keys = this.#objects.get(portForward) ?? new Set<string>();
    keys.add(objectKey);
    this.#objects.set(portForward, keys);
  }

  #remove(portForward: string, objectKey: string): void {
    const keys = this.#objects.get(portForward);
    if (keys === undefined) return;
    keys.delete(objectKey);
    if (keys.size === 0) this.#objects.delete(portForward);
  }
}

/** The key of the PortForward whose per-pod object `object` is, if it is one. */
function portForwardOf(object: KubeObject): string | undefined {
  const labels = object.metadata?.labels;
  const name = labels?.[LABEL_PORTFORWARD];
  if (name === undefined || labels?.[LABEL_POD] === undefined) return undefined;
  return `${object.metadata?.namespace ?? ""}/${name}`;
}
