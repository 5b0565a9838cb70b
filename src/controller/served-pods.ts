/**
 * How status words the pods a PortForward serves when spec.includeNotReadyPods lets not-ready
 * (but Running) pods receive connections (resolve-targets.ts decides which). Pure.
 *
 * Without such pods every phrase is the one used before includeNotReadyPods existed, so plain
 * PortForwards read as they always did.
 */
import type { ResolvedTarget } from "../targets/resolve-targets.ts";

/** Targets that receive new connections although they are not ready. */
export function servedNotReadyCount(targets: readonly ResolvedTarget[]): number {
  return targets.filter((t) => t.servedNotReady === true).length;
}

/** status.pods: ready/total, e.g. "2/3", then the served not-ready ones: "2/3 (+1 not ready)". */
export function podsSummary(targets: readonly ResolvedTarget[]): string {
  const notReady = servedNotReadyCount(targets);
  const ready = targets.filter((t) => t.ready && t.servedNotReady !== true).length;
  return `${ready}/${targets.length}${notReady === 0 ? "" : ` (+${notReady} not ready)`}`;
}

/** "serving 3 pods, 1 not ready (includeNotReadyPods)", or undefined when every served pod is ready. */
export function servingNote(targets: readonly ResolvedTarget[]): string | undefined {
  const notReady = servedNotReadyCount(targets);
  if (notReady === 0) return undefined;
  const served = targets.filter((t) => t.ready).length;
  return `serving ${served} pod${served === 1 ? "" : "s"}, ${notReady} not ready (includeNotReadyPods)`;
}
