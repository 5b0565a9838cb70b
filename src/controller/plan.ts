/**
 * plan(observed, now): the pure heart of a reconcile. From the PortForward and what the store
 * holds, it decides the Service to apply, the controller-owned status, the Events to record
 * and when to look again. It performs no I/O. It runs in three steps:
 * - gather: the Service's ownership, the gateway ports, the resolved targets and the live
 *   gateways' reports, into one ReadinessInput;
 * - decide: the readiness policies (readiness-policies.ts, which states the precedence) say what
 *   keeps the PortForward from being Ready and what each detail condition reports;
 * - assemble: conditions, status, Events, the desired Service and EndpointSlice, the requeue;
 *   with spec.service.perPod also each target pod's own Service (desired-pod-services.ts).
 *
 * Ready semantics: True only when the data path works — the Service exists (and is ours) and at
 * least one gateway reports a live tunnel to a ready target pod. Until any gateway reports,
 * Ready is False with reason NoGatewayReporting. Ready is present from the first reconcile.
 *
 * Status ownership: the returned status never contains `gateways`; those entries belong to the
 * gateway replicas (one field manager each). The controller only reads them.
 */

import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { ConditionType, Reason } from "../api/conditions.ts";
import { isServiceOwnedBy, serviceNameOf } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import { reconcileRequestOf } from "../api/reconcile-request.ts";
import type { Condition, GatewayStatus, PortForwardStatus, TargetStatus, Totals } from "../api/status.ts";
import { byEntryKey } from "../runtime/order.ts";
import { describeTarget, resolveTargets, type TargetObservation } from "../targets/resolve-targets.ts";
import { type AccessDeniedCause, accessDeniedCause } from "./access-denied.ts";
import { allocateGatewayPorts, type GatewayPortClaimsInput, ownerKey, type PortRange } from "./allocate-ports.ts";
import { assignGateways } from "./assign-gateways.ts";
import { findCondition } from "./conditions.ts";
import { buildDesiredEndpointSlice, type GatewayEndpoint } from "./desired-endpoint-slice.ts";
import { type DesiredPodService, planPodServices } from "./desired-pod-services.ts";
import { buildDesiredService } from "./desired-service.ts";
import { conditionsFor } from "./readiness-conditions.ts";
import {
  firstFailure,
  isStalledReason,
  isSuspendedReason,
  type PolicyFailure,
  READY_POLICIES,
  type ReadinessInput,
} from "./readiness-policies.ts";
import { podsSummary } from "./served-pods.ts";
import { suspendEvents } from "./suspend-events.ts";

export interface Observed extends TargetObservation {
  portForward: PortForward;
  /**
   * Services of the PortForward's namespace in this cluster, where its own Service lives. Default
   * `services`; they differ for a remote PortForward, whose `services` are the remote cluster's.
   */
  localServices?: readonly V1Service[];
  /**
   * The Service of `localServices` named serviceNameOf(portForward) in its namespace, when the
   * caller has looked it up by key (null: there is none); absent, plan finds it in the list (a
   * scan of every Service of the namespace per reconcile: 4 % of the controller's busy time at
   * 1,000 PortForwards, bench `controller --live-tunnels --cpu-profile`).
   */
  ownService?: V1Service | null;
  /** Claims on gateway ports by all PortForwards (see allocate-ports.ts), in-flight ones included. */
  gatewayPortRecords: GatewayPortClaimsInput;
  gatewayPortRange?: PortRange;
  /** Live gateway replicas; those assigned to this PortForward with a pod IP become the endpoints of the Service. */
  gatewayEndpoints: readonly GatewayEndpoint[];
  /** At most this many live replicas serve the PortForward (assign-gateways.ts); 0 or absent: all. */
  gatewaysPerPortForward?: number;
  /** Running gateway pods. When given, status entries of other (gone) gateway pods are ignored. */
  gatewayPods?: readonly string[];
}

/** An Event to record (events.k8s.io/v1 fields). */
export interface PlannedEvent {
  type: "Normal" | "Warning";
  reason: string;
  action: string;
  note: string;
}

/** The status fields the controller owns: everything but `gateways`. */
export type ControllerStatus = Omit<PortForwardStatus, "gateways">;

export interface Plan {
  /** The Service to apply, or undefined when it must not be applied (name conflict, no ports left). */
  service: V1Service | undefined;
  /** The Service's EndpointSlice (the gateway pods), applied together with the Service. */
  endpointSlice: V1EndpointSlice | undefined;
  /**
   * The per-pod Services to apply (empty with perPod off); the controller deletes the others of
   * this PortForward. Undefined: leave them as they are (the Service cannot be applied, or no
   * gateway ports are left for them, `podServicesError` says which).
   */
  podServices: readonly DesiredPodService[] | undefined;
  podServicesError?: string;
  status: ControllerStatus;
  events: PlannedEvent[];
  requeueAfterMs: number;
}

export const MAX_LISTED_TARGETS = 256;
/** status.lastHandledReconcileAt's maxLength (status.ts); a longer annotation value is cut. */
const MAX_RECONCILE_REQUEST_LENGTH = 256;
export const REQUEUE_HEALTHY_MS = 5 * 60_000;
export const REQUEUE_PROGRESSING_MS = 30_000;

/** Reasons of ordinary progress: no Warning event for them. */
const PROGRESS_REASONS: ReadonlySet<string> = new Set([Reason.ServicePending, Reason.NoGatewayReporting, Reason.RemoteConnecting]);

export function plan(observed: Observed, now: Date): Plan {
  const input = gatherReadinessInput(observed);
  const blocking = firstFailure(READY_POLICIES, input);
  const accessDenied = accessDeniedCause(input.gateways, now);
  const conditions = conditionsFor(input, blocking, accessDenied, now);
  const perPortForward = observed.gatewaysPerPortForward ?? 0;
  const assigned = assignGateways(input.portForward, observed.gatewayEndpoints, perPortForward);
  const perPod = podServicesFor(input, observed, assigned);
  const assignment = assignedGatewaysStatus(assigned, perPortForward);
  return {
    ...desiredObjectsFor(input, assigned, assignment.assignedGateways),
    ...perPod.plan,
    status: { ...statusFor(input, conditions), ...assignment, ...perPod.status },
    events: planEvents(input.portForward.status?.conditions ?? [], conditions),
    requeueAfterMs: requeueAfterMsFor(blocking, accessDenied),
  };
}

// ---------------------------------------------------------------------------------------------
// Gather

/** Gather: the Service's ownership, the gateway ports, the resolved targets and the gateways' reports. */
function gatherReadinessInput(observed: Observed): ReadinessInput {
  const pf = observed.portForward;
  const serviceName = serviceNameOf(pf);
  const existing =
    observed.ownService !== undefined
      ? (observed.ownService ?? undefined)
      : (observed.localServices ?? observed.services ?? []).find(
          (s) =>
            s.metadata?.name === serviceName && (pf.metadata.namespace === undefined || s.metadata?.namespace === pf.metadata.namespace),
        );
  const serviceConflict = existing !== undefined && !isServiceOwnedBy(existing, pf);
  const resolved = resolveTargets(pf, observed);
  const readyPods = new Set(resolved.targets.filter((t) => t.ready).map((t) => t.pod));
  const gateways = liveGatewayEntries(pf, observed.gatewayPods);
  const owner = ownerKey(pf.metadata.namespace, pf.metadata.name);
  return {
    portForward: pf,
    serviceName,
    serviceConflict,
    ownService: serviceConflict ? undefined : existing,
    allocation: allocateGatewayPorts(owner, pf.spec.ports, observed.gatewayPortRecords, observed.gatewayPortRange),
    resolved,
    readyPods,
    gateways,
    connectedGateways: gateways.filter((g) => holdsTunnelToReadyPod(g, readyPods)),
  };
}

function liveGatewayEntries(pf: PortForward, gatewayPods: readonly string[] | undefined): GatewayStatus[] {
  const entries = pf.status?.gateways ?? [];
  if (gatewayPods === undefined) return [...entries];
  const live = new Set(gatewayPods);
  return entries.filter((entry) => live.has(entry.pod));
}

function holdsTunnelToReadyPod(gateway: GatewayStatus, readyPods: ReadonlySet<string>): boolean {
  return gateway.connected && (gateway.connectedTargets ?? []).some((pod) => readyPods.has(pod));
}

// ---------------------------------------------------------------------------------------------
// Assemble: desired objects, status (conditions: readiness-conditions.ts), Events, requeue

/** The Service and its EndpointSlice, or neither while the name is taken or ports are missing. */
function desiredObjectsFor(
  input: ReadinessInput,
  gatewayEndpoints: readonly GatewayEndpoint[],
  assignedGateways: readonly string[] | undefined,
): Pick<Plan, "service" | "endpointSlice"> {
  const { portForward: pf, allocation } = input;
  if (input.serviceConflict || !allocation.ok) return { service: undefined, endpointSlice: undefined };
  return {
    service: buildDesiredService(pf, allocation.ports),
    endpointSlice: buildDesiredEndpointSlice(pf, allocation.ports, gatewayEndpoints, assignedGateways),
  };
}

/** The per-pod Services and status.podServices; on failure the current ones stay. */
function podServicesFor(
  input: ReadinessInput,
  observed: Observed,
  assigned: readonly GatewayEndpoint[],
): { plan: Pick<Plan, "podServices" | "podServicesError">; status: Pick<ControllerStatus, "podServices"> } {
  const { portForward: pf, allocation } = input;
  const current = pf.status?.podServices;
  const keep = { status: current === undefined ? {} : { podServices: current } };
  if (input.serviceConflict || !allocation.ok) return { plan: { podServices: undefined }, ...keep };
  const planned = planPodServices({
    portForward: pf,
    serviceName: input.serviceName,
    allocation: allocation.ports,
    pods: input.resolved.targets.map((t) => t.pod),
    services: observed.localServices ?? observed.services ?? [],
    isOwned: (service) => isServiceOwnedBy(service, pf),
    gatewayPortRecords: observed.gatewayPortRecords,
    ...(observed.gatewayPortRange === undefined ? {} : { gatewayPortRange: observed.gatewayPortRange }),
    gatewayEndpoints: assigned,
  });
  if (!planned.ok) return { plan: { podServices: undefined, podServicesError: planned.message }, ...keep };
  return { plan: { podServices: planned.objects }, status: planned.status.length === 0 ? {} : { podServices: [...planned.status] } };
}

function statusFor(input: ReadinessInput, conditions: Condition[]): ControllerStatus {
  const { portForward: pf, resolved, allocation } = input;
  const generation = pf.metadata.generation;
  const clusterIP = input.ownService?.spec?.clusterIP;
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions,
    target: describeTarget(pf.spec.target),
    pods: podsSummary(resolved.targets),
    serviceName: input.serviceName,
    ...(clusterIP === undefined || clusterIP === "" ? {} : { clusterIP }),
    ...(allocation.ok ? { ports: allocation.ports } : {}),
    targets: targetStatusesFor(input),
    totals: totalsFor(input),
    ...lastHandledReconcileAtFor(pf),
  };
}

/**
 * status.assignedGateways (and the EndpointSlice's annotation, which the gateways read):
 * published whenever a budget applies and a gateway is live, so each replica knows whether it
 * serves or stands by; absent, every replica serves (no budget, or no
 * live replica to name: gateways must not all stand by because the controller sees none).
 */
function assignedGatewaysStatus(assigned: readonly GatewayEndpoint[], perPortForward: number): Pick<ControllerStatus, "assignedGateways"> {
  if (perPortForward <= 0 || assigned.length === 0) return {};
  return { assignedGateways: assigned.map((g) => g.pod) };
}

/** The reconcile request this reconcile handles, echoed as Flux does (api/reconcile-request.ts). */
function lastHandledReconcileAtFor(pf: PortForward): Pick<ControllerStatus, "lastHandledReconcileAt"> {
  const requested = reconcileRequestOf(pf.metadata);
  return requested === undefined ? {} : { lastHandledReconcileAt: requested.slice(0, MAX_RECONCILE_REQUEST_LENGTH) };
}

/** The first MAX_LISTED_TARGETS targets, each with the gateways that hold a live tunnel to it. */
function targetStatusesFor(input: ReadinessInput): TargetStatus[] {
  return input.resolved.targets.slice(0, MAX_LISTED_TARGETS).map((t) => {
    const via = input.connectedGateways
      .filter((g) => (g.connectedTargets ?? []).includes(t.pod))
      .map((g) => g.pod)
      .sort();
    const notReady = t.servedNotReady === true;
    return {
      pod: t.pod,
      ready: t.ready && !notReady,
      ...(notReady ? { servedNotReady: true } : {}),
      ...(via.length === 0 ? {} : { gateways: via }),
    };
  });
}

function totalsFor(input: ReadinessInput): Totals {
  const { resolved, readyPods, gateways, connectedGateways } = input;
  const connectedPods = [...readyPods].filter((pod) => connectedGateways.some((g) => (g.connectedTargets ?? []).includes(pod)));
  return {
    pods: resolved.targets.length,
    readyPods: resolved.targets.filter((t) => t.ready && t.servedNotReady !== true).length,
    connectedPods: connectedPods.length,
    gateways: gateways.length,
    connectedGateways: connectedGateways.length,
    activeConnections: gateways.reduce((sum, g) => sum + g.activeConnections, 0),
    reconnects: gateways.reduce((sum, g) => sum + g.reconnects, 0),
  };
}

/** Soon while progressing; rarely when Ready or Stalled (a person acts); before AccessDenied lapses. */
function requeueAfterMsFor(blocking: PolicyFailure | undefined, accessDenied: AccessDeniedCause | undefined): number {
  const settled = blocking === undefined || isStalledReason(blocking.reason) || isSuspendedReason(blocking.reason);
  return Math.min(settled ? REQUEUE_HEALTHY_MS : REQUEUE_PROGRESSING_MS, accessDenied?.expiresInMs ?? Number.POSITIVE_INFINITY);
}

/** Events on transitions only: a condition's (status, reason) changed between old and new. */
function planEvents(old: readonly Condition[], next: readonly Condition[]): PlannedEvent[] {
  const events: PlannedEvent[] = suspendEvents(findCondition(old, ConditionType.Ready), findCondition(next, ConditionType.Ready));
  const changed = (type: string) => {
    const before = findCondition(old, type);
    const after = findCondition(next, type);
    const moved = before?.status !== after?.status || before?.reason !== after?.reason;
    return moved ? after : undefined;
  };
  const ready = changed(ConditionType.Ready);
  const service = changed(ConditionType.ServiceReady);
  // Right after a resume the tunnels are still opening: that is progress, not worth a Warning.
  const resuming = isSuspendedReason(findCondition(old, ConditionType.Ready)?.reason ?? "");
  // A new PortForward whose first status already says Ready (first-status-hold.ts) came up in one
  // step: one Event says so, with the Service's ports in its note, instead of two Events (each
  // ~2 ms of API-server CPU in a burst of new PortForwards; docs/benchmarks.md).
  const cameUpAtOnce = ready?.status === "True" && service?.status === "True";
  if (ready !== undefined) {
    if (ready.status === "True") {
      const note = cameUpAtOnce ? `${ready.message} ${service.message}` : ready.message;
      events.push({ type: "Normal", reason: ready.reason, action: "Reconcile", note });
    } else if (!PROGRESS_REASONS.has(ready.reason) && !isSuspendedReason(ready.reason) && !resuming) {
      events.push({ type: "Warning", reason: ready.reason, action: "Reconcile", note: ready.message });
    }
  }
  if (service?.status === "True" && !cameUpAtOnce) {
    events.push({ type: "Normal", reason: service.reason, action: "ApplyService", note: service.message });
  }
  const degraded = changed(ConditionType.Degraded);
  if (degraded !== undefined) {
    events.push({ type: "Warning", reason: degraded.reason, action: "Reconcile", note: degraded.message });
  }
  return events;
}

/** Whether applying `next` would change nothing the controller owns (so no status write is needed). */
export function isStatusUnchanged(current: PortForwardStatus | undefined, next: ControllerStatus): boolean {
  const { gateways: _gateways, ...owned } = current ?? {};
  return stableJson(owned) === stableJson(next);
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(byEntryKey))
      : v,
  );
}
