/**
 * The conditions plan() writes, assembled from the gathered ReadinessInput and `blocking`, the
 * failure of the first READY_POLICIES policy (readiness-policies.ts states the precedence).
 *
 * Guarantees: every condition type the controller owns is written on every plan, in one fixed
 * order (an existing entry keeps its place, a new one is appended; abnormal-true ones are removed
 * while false). Ready carries `blocking` word for word, and so does exactly one of Stalled (its
 * reason needs a person) and Reconciling (it clears on its own), except while suspended
 * (spec.suspend), which is neither. Degraded is absent while suspended (no tunnel is wanted). Each detail condition is False
 * with the first failure of its own policy chain, else True with a message saying what works.
 * Conditions of types the controller does not own are dropped.
 */
import { ConditionType, Reason } from "../api/conditions.ts";
import type { Condition } from "../api/status.ts";
import { describeTarget } from "../targets/resolve-targets.ts";
import type { AccessDeniedCause } from "./access-denied.ts";
import { type ConditionInput, setAbnormalCondition, setCondition } from "./conditions.ts";
import {
  describeDisconnected,
  firstFailure,
  isStalledReason,
  isSuspendedReason,
  type PolicyFailure,
  type ReadinessInput,
  SERVICE_READY_POLICIES,
  TARGET_RESOLVED_POLICIES,
  TUNNEL_CONNECTED_POLICIES,
} from "./readiness-policies.ts";
import { servedNotReadyCount, servingNote } from "./served-pods.ts";

const OWN_CONDITION_TYPES: ReadonlySet<string> = new Set(Object.values(ConditionType));

/**
 * Every condition the controller owns, in a fixed order. Ready carries `blocking` (the first
 * failing readiness policy), which is also the cause of Stalled or of Reconciling.
 */
export function conditionsFor(
  input: ReadinessInput,
  blocking: PolicyFailure | undefined,
  accessDenied: AccessDeniedCause | undefined,
  now: Date,
): Condition[] {
  const pf = input.portForward;
  const generation = pf.metadata.generation;
  const stalled = blocking !== undefined && isStalledReason(blocking.reason) ? blocking : undefined;
  const reconciling = blocking !== undefined && stalled === undefined && !isSuspendedReason(blocking.reason) ? blocking : undefined;
  const previous = (pf.status?.conditions ?? []).filter((c) => OWN_CONDITION_TYPES.has(c.type));
  let conditions = setCondition(previous, readyCondition(input, blocking), now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Reconciling, reconciling, now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Stalled, stalled, now, generation);
  conditions = setCondition(conditions, targetResolvedCondition(input), now, generation);
  conditions = setCondition(conditions, tunnelConnectedCondition(input), now, generation);
  conditions = setCondition(conditions, serviceReadyCondition(input), now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Degraded, degradedCause(input), now, generation);
  return setAbnormalCondition(conditions, ConditionType.AccessDenied, accessDenied, now, generation);
}

/** A condition's reason and message. */
type ReasonAndMessage = { reason: string; message: string };

/** A normal-true condition: False with the policy failure if there is one, else True as `passed` says. */
function conditionFrom(type: string, failure: PolicyFailure | undefined, passed: () => ReasonAndMessage): ConditionInput {
  if (failure !== undefined) return { type, status: "False", reason: failure.reason, message: failure.message };
  const { reason, message } = passed();
  return { type, status: "True", reason, message };
}

function readyCondition(input: ReadinessInput, blocking: PolicyFailure | undefined): ConditionInput {
  const notReady = servedNotReadyCount(input.resolved.targets);
  const pods =
    notReady === 0
      ? plural(input.readyPods.size, "ready pod")
      : `${plural(input.readyPods.size, "pod")}, ${notReady} not ready (includeNotReadyPods),`;
  return conditionFrom(ConditionType.Ready, blocking, () => ({
    reason: Reason.Forwarding,
    message: `Service ${input.serviceName} forwards to ${pods} through ${plural(input.connectedGateways.length, "gateway")}.`,
  }));
}

function targetResolvedCondition(input: ReadinessInput): ConditionInput {
  const { portForward: pf, resolved, readyPods } = input;
  const serving = servingNote(resolved.targets);
  const ready = readyPods.size - servedNotReadyCount(resolved.targets);
  return conditionFrom(ConditionType.TargetResolved, firstFailure(TARGET_RESOLVED_POLICIES, input), () => ({
    reason: Reason.Resolved,
    message: `${describeTarget(pf.spec.target)} resolved to ${plural(resolved.targets.length, "pod")}, ${ready} ready${serving === undefined ? "" : `; ${serving}`}.`,
  }));
}

function tunnelConnectedCondition(input: ReadinessInput): ConditionInput {
  const { gateways, connectedGateways: connected } = input;
  return conditionFrom(ConditionType.TunnelConnected, firstFailure(TUNNEL_CONNECTED_POLICIES, input), () => {
    const protocols = [...new Set(connected.flatMap((g) => (g.protocol === undefined ? [] : [g.protocol])))].sort();
    return {
      reason: Reason.Connected,
      message: `${liveTunnelSummary(connected.length, gateways.length)}${protocols.length === 0 ? "" : ` (protocol ${protocols.join(", ")})`}.`,
    };
  });
}

function serviceReadyCondition(input: ReadinessInput): ConditionInput {
  const { serviceName, allocation } = input;
  return conditionFrom(ConditionType.ServiceReady, firstFailure(SERVICE_READY_POLICIES, input), () => {
    // The policies passed, so the ports are allocated; the check only narrows the type.
    const ports = (allocation.ok ? allocation.ports : []).map((p) => `${p.port}→${p.gatewayPort}`).join(", ");
    const ip = input.ownService?.spec?.clusterIP;
    return {
      reason: Reason.ServiceAvailable,
      message: `Service ${serviceName}${ip ? ` (${ip})` : ""} routes ports ${ports} (Service port → gateway port).`,
    };
  });
}

/** Degraded: some, but not all, gateways hold a live tunnel to a ready pod. */
function degradedCause(input: ReadinessInput): ReasonAndMessage | undefined {
  const { gateways, connectedGateways: connected } = input;
  if (input.portForward.spec.suspend === true) return undefined;
  if (connected.length === 0 || connected.length === gateways.length) return undefined;
  const disconnected = gateways.filter((g) => !connected.includes(g));
  return {
    reason: Reason.PartiallyConnected,
    message: `${liveTunnelSummary(connected.length, gateways.length)}; ${describeDisconnected(disconnected)}.`,
  };
}

/** "1 of 2 gateways holds a live tunnel to a ready pod". */
function liveTunnelSummary(connected: number, gateways: number): string {
  return `${connected} of ${plural(gateways, "gateway")} ${connected === 1 ? "holds" : "hold"} a live tunnel to a ready pod`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
