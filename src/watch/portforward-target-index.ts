/**
 * An index of cached PortForwards by what their target resolves through, so that a change of a
 * pod, Service or workload finds the PortForwards it may concern (watch/portforward-keys.ts)
 * without testing every PortForward of its namespace: at 1,000 PortForwards in one namespace, the
 * controller's 1,000 Service applies each tested all 1,000 (bench `controller --live-tunnels
 * --cpu-profile`: 4 % of the gateway's busy time).
 *
 * The values are candidates for targets/resolve-targets.ts `mayResolveThrough`, which still
 * decides; they cover every PortForward it can answer true for (objects are read raw, as cached):
 * - a pod named X: `podValue(ns, X)` (spec.target.pod X), `selectorValue(ns)` (a selector, to be
 *   matched) and `anyPodValue(ns)` (neither: Service and workload targets resolve to pods);
 * - a Service named X: `serviceValue(ns, X)`; a workload named X: `workloadValue(ns, X)`.
 */
import type { KubeObject } from "../runtime/store.ts";

export const PORTFORWARD_TARGET_INDEX = "target";

interface RawTarget {
  readonly pod?: unknown;
  readonly selector?: unknown;
  readonly service?: unknown;
  readonly workload?: { readonly name?: unknown };
}

const value = (namespace: string, ...parts: string[]) => [namespace, ...parts].join("\u0000");

export const podValue = (namespace: string, name: string) => value(namespace, "pod", name);
export const selectorValue = (namespace: string) => value(namespace, "selector");
export const anyPodValue = (namespace: string) => value(namespace, "any-pod");
export const serviceValue = (namespace: string, name: string) => value(namespace, "service", name);
export const workloadValue = (namespace: string, name: string) => value(namespace, "workload", name);

/** Index values of one cached PortForward (see the header). */
export function portForwardTargetValues(object: KubeObject & { readonly spec?: { readonly target?: RawTarget } }): readonly string[] {
  const namespace = object.metadata?.namespace ?? "";
  const target = object.spec?.target ?? {};
  const values: string[] = [];
  if (target.pod !== undefined) values.push(podValue(namespace, String(target.pod)));
  else if (target.selector !== undefined) values.push(selectorValue(namespace));
  else values.push(anyPodValue(namespace));
  if (target.service !== undefined) values.push(serviceValue(namespace, String(target.service)));
  if (target.workload?.name !== undefined) values.push(workloadValue(namespace, String(target.workload.name)));
  return values;
}
