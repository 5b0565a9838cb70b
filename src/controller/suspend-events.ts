/**
 * The Normal Events of suspending and resuming a PortForward (spec.suspend), from Ready's
 * transition. Pure. A suspension is a person's choice, so it never makes a Warning Event (plan.ts
 * leaves reason Suspended out of its Warnings); resuming is reported once, when Ready leaves
 * reason Suspended, whatever it moves to (the data path may take a moment to come back).
 */
import { Reason } from "../api/conditions.ts";
import type { Condition } from "../api/status.ts";
import type { PlannedEvent } from "./plan.ts";

/** Event reason of leaving suspension; not a condition reason (Ready then says where it is). */
export const RESUMED_EVENT_REASON = "Resumed";

export function suspendEvents(before: Condition | undefined, after: Condition | undefined): PlannedEvent[] {
  const wasSuspended = before?.reason === Reason.Suspended;
  const isSuspended = after?.reason === Reason.Suspended;
  if (isSuspended && !wasSuspended) {
    return [{ type: "Normal", reason: Reason.Suspended, action: "Suspend", note: after.message }];
  }
  if (wasSuspended && !isSuspended) {
    return [
      {
        type: "Normal",
        reason: RESUMED_EVENT_REASON,
        action: "Resume",
        note: "spec.suspend is no longer true: the gateways reopen the listeners and tunnels on the same gateway ports.",
      },
    ];
  }
  return [];
}
