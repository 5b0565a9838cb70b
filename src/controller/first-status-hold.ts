/**
 * Whether the controller holds back the first status write of a new PortForward, and for how long
 * (pure).
 *
 * Written as soon as each side can, a new PortForward takes three status writes: the
 * controller's first (Ready=False, NoGatewayReporting), the gateway's entry once its tunnel is up,
 * and the controller's second (Ready=True). A status write is the API server's costliest request
 * in a burst of new PortForwards (about 12 ms of its CPU each, docs/benchmarks.md). The gateways
 * read their ports and assignment from the Service and EndpointSlice (gateway/gateway-bindings.ts),
 * not from status, so the first write carries nothing the data path waits for: held until the
 * gateways report, it becomes the write that says Ready, and there are two writes instead of three.
 *
 * Held only while all of these are true:
 * - no controller has written the status yet (observedGeneration is the CRD's default 0, and there
 *   are no conditions): kstatus and Argo CD read it as in progress meanwhile (api/crd.ts);
 * - Ready would say NoGatewayReporting while a gateway is live: a report is on its way (a gateway
 *   reports once its first dial ends, in milliseconds when the pods answer);
 * - less than FIRST_STATUS_HOLD_MS has passed since the hold began (`heldSince`: the reconcile
 *   that first held it, as the caller remembers). Not since creation: in a burst a new
 *   PortForward can wait longer than that in the work queue before its first reconcile applies
 *   the Service the gateways need (bench `controller --live-tunnels`: p50 25 s at 1,000), and a
 *   hold counted from creation would then be over before a gateway could report. A report that
 *   does not come (a gateway stuck, gone, or not watching this namespace) shows as
 *   NoGatewayReporting, only later.
 * Any other first status (a Service conflict, no ready target pod, no live gateway) is written at
 * once: it is what a person needs to read, and no report would change it.
 */
import { ConditionType, Reason } from "../api/conditions.ts";
import type { PortForward } from "../api/portforward.ts";
import type { ControllerStatus } from "./plan.ts";

/** The longest a first status write is held (see the header). */
export const FIRST_STATUS_HOLD_MS = 5_000;

/** Milliseconds to hold the first status write for, counted from `heldSince`, or undefined to write it now. */
export function firstStatusHoldMs(
  pf: PortForward,
  planned: ControllerStatus,
  liveGateways: number,
  heldSince: number,
  now: number,
): number | undefined {
  const written = (pf.status?.observedGeneration ?? 0) > 0 || (pf.status?.conditions ?? []).length > 0;
  if (written || liveGateways === 0) return undefined;
  const ready = planned.conditions?.find((c) => c.type === ConditionType.Ready);
  if (ready?.reason !== Reason.NoGatewayReporting) return undefined;
  const left = heldSince + FIRST_STATUS_HOLD_MS - now;
  return left > 0 ? left : undefined;
}
