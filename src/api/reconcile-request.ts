/**
 * The reconcile request of a PortForward: an annotation whose every new value asks for an
 * immediate reconcile, after Flux's `reconcile.fluxcd.io/requestedAt` (`flux reconcile` sets it to
 * a timestamp). The value is opaque: only a change counts, never its content.
 *
 * Contract: tunnelkeeper's own annotation wins when both are set, so a person's
 * `kubectl annotate pf/x tunnelkeeper.io/reconcile-requested-at="$(date +%s)"` is never shadowed
 * by a stale Flux value; Flux's is honoured when ours is absent. The controller echoes the value
 * it handled in `status.lastHandledReconcileAt`; each gateway redials the tunnels that are not
 * open when the value changes (see status.ts).
 */
import { ANNOTATION_FLUX_RECONCILE_REQUESTED_AT, ANNOTATION_RECONCILE_REQUESTED_AT } from "./identity.ts";

/** The requested-at value of `metadata`, or undefined when no reconcile was ever requested. */
export function reconcileRequestOf(metadata: { readonly annotations?: Readonly<Record<string, string>> | undefined }): string | undefined {
  const annotations = metadata.annotations ?? {};
  const value = annotations[ANNOTATION_RECONCILE_REQUESTED_AT] ?? annotations[ANNOTATION_FLUX_RECONCILE_REQUESTED_AT];
  return value === undefined || value === "" ? undefined : value;
}
