/**
 * plan(observed, now): the pure heart of a reconcile. From the PortForward and what the store
 * holds, it decides the Service to apply, the controller-owned status, the Events to record
 * and when to look again. It performs no I/O.
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
import { KIND, LABEL_MANAGED_BY, LABEL_PORTFORWARD, MANAGED_BY_VALUE } from "../api/identity.ts";
import type { PortForward } from "../api/portforward.ts";
import type { Condition, GatewayStatus, PortForwardStatus, TargetStatus } from "../api/status.ts";
import { byEntryKey } from "../runtime/order.ts";
import { describeTarget, type ResolveResult, resolveTargets, type TargetObservation } from "../targets/resolve-targets.ts";
import { accessDeniedCause } from "./access-denied.ts";
import { type AllocationResult, allocateGatewayPorts, type GatewayPortRecord, ownerKey, type PortRange } from "./allocate-ports.ts";
import { type ConditionInput, findCondition, setAbnormalCondition, setCondition } from "./conditions.ts";
import { buildDesiredEndpointSlice, type GatewayEndpoint } from "./desired-endpoint-slice.ts";
import { buildDesiredService, serviceNameOf } from "./desired-service.ts";

export interface Observed extends TargetObservation {
  portForward: PortForward;
  /**
   * Services of the PortForward's namespace in this cluster, where its own Service lives. Default
   * `services`; they differ for a remote PortForward, whose `services` are the remote cluster's.
   */
  localServices?: readonly V1Service[];
  /** Claims on gateway ports by all PortForwards (see allocate-ports.ts), in-flight ones included. */
  gatewayPortRecords: readonly GatewayPortRecord[];
  gatewayPortRange?: PortRange;
  /** Live gateway replicas; those with a pod IP become the endpoints of the Service. */
  gatewayEndpoints: readonly GatewayEndpoint[];
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
  status: ControllerStatus;
  events: PlannedEvent[];
  requeueAfterMs: number;
}

export const MAX_LISTED_TARGETS = 256;
export const REQUEUE_HEALTHY_MS = 5 * 60_000;
export const REQUEUE_PROGRESSING_MS = 30_000;

/** Reasons that need a change by a person (spec, RBAC, configuration): kstatus Stalled. */
const STALLED_REASONS: ReadonlySet<string> = new Set([
  Reason.ServiceConflict,
  Reason.PortsExhausted,
  Reason.PortNotExposed,
  Reason.ProtocolUnsupported,
  Reason.Forbidden,
  // A remote cluster's Secret, certificate, credentials or RBAC: a person fixes them.
  // RemoteUnreachable and RemoteConnecting are not here: networks come back by themselves.
  Reason.RemoteKubeconfigInvalid,
  Reason.RemoteTLSFailed,
  Reason.RemoteUnauthorized,
  Reason.RemoteForbidden,
]);

/** Reasons of ordinary progress: no Warning event for them. */
const PROGRESS_REASONS: ReadonlySet<string> = new Set([Reason.ServicePending, Reason.NoGatewayReporting, Reason.RemoteConnecting]);

const OWN_CONDITION_TYPES: ReadonlySet<string> = new Set(Object.values(ConditionType));

type Verdict = { ok: true; input: ConditionInput } | { ok: false; input: ConditionInput };

function verdict(type: string, ok: boolean, reason: string, message: string): Verdict {
  return { ok, input: { type, status: ok ? "True" : "False", reason, message } };
}

/** Whether `service` is this PortForward's: controlled by it, or orphaned but labelled for it. */
export function isServiceOwnedBy(service: V1Service, pf: PortForward): boolean {
  const controller = service.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  if (controller !== undefined) {
    return (
      controller.kind === KIND &&
      (pf.metadata.uid === undefined ? controller.name === pf.metadata.name : controller.uid === pf.metadata.uid)
    );
  }
  const labels = service.metadata?.labels ?? {};
  return labels[LABEL_MANAGED_BY] === MANAGED_BY_VALUE && labels[LABEL_PORTFORWARD] === pf.metadata.name;
}

function liveGatewayEntries(pf: PortForward, gatewayPods: readonly string[] | undefined): GatewayStatus[] {
  const entries = pf.status?.gateways ?? [];
  if (gatewayPods === undefined) return [...entries];
  const live = new Set(gatewayPods);
  return entries.filter((entry) => live.has(entry.pod));
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function plan(observed: Observed, now: Date): Plan {
  const pf = observed.portForward;
  const generation = pf.metadata.generation;
  const serviceName = serviceNameOf(pf);
  const existing = (observed.localServices ?? observed.services ?? []).find(
    (s) => s.metadata?.name === serviceName && (pf.metadata.namespace === undefined || s.metadata?.namespace === pf.metadata.namespace),
  );
  const conflict = existing !== undefined && !isServiceOwnedBy(existing, pf);
  const ownService = existing !== undefined && !conflict ? existing : undefined;

  const allocation: AllocationResult = allocateGatewayPorts(
    ownerKey(pf.metadata.namespace, pf.metadata.name),
    pf.spec.ports,
    observed.gatewayPortRecords,
    observed.gatewayPortRange,
  );
  const resolved = resolveTargets(pf, observed);
  const readyPods = new Set(resolved.targets.filter((t) => t.ready).map((t) => t.pod));
  const gateways = liveGatewayEntries(pf, observed.gatewayPods);
  const servesReadyPod = (g: GatewayStatus) => g.connected && (g.connectedTargets ?? []).some((pod) => readyPods.has(pod));
  const connectedGateways = gateways.filter(servesReadyPod);

  const service = conflict || !allocation.ok ? undefined : buildDesiredService(pf, allocation.ports);
  const endpointSlice = conflict || !allocation.ok ? undefined : buildDesiredEndpointSlice(pf, allocation.ports, observed.gatewayEndpoints);

  const targetVerdict = resolved.ok
    ? verdict(
        ConditionType.TargetResolved,
        true,
        Reason.Resolved,
        `${describeTarget(pf.spec.target)} resolved to ${plural(resolved.targets.length, "pod")}, ${readyPods.size} ready.`,
      )
    : verdict(ConditionType.TargetResolved, false, resolved.reason, resolved.message);
  const serviceVerdict = planServiceVerdict(serviceName, conflict, allocation, ownService);
  const tunnelVerdict = planTunnelVerdict(resolved, gateways, connectedGateways, pf.metadata.namespace);

  // Ready explains the most fundamental problem: one that needs a person first, then the target,
  // then the tunnels (so Ready says NoGatewayReporting until a gateway reports), then the Service.
  const blocking =
    [serviceVerdict, targetVerdict, tunnelVerdict].find((v) => !v.ok && STALLED_REASONS.has(v.input.reason)) ??
    [targetVerdict, tunnelVerdict, serviceVerdict].find((v) => !v.ok);
  const ready: ConditionInput =
    blocking === undefined
      ? {
          type: ConditionType.Ready,
          status: "True",
          reason: Reason.Forwarding,
          message: `Service ${serviceName} forwards to ${plural(readyPods.size, "ready pod")} through ${plural(connectedGateways.length, "gateway")}.`,
        }
      : { ...blocking.input, type: ConditionType.Ready };
  const cause = blocking === undefined ? undefined : { reason: blocking.input.reason, message: blocking.input.message };
  const stalled = cause !== undefined && STALLED_REASONS.has(cause.reason) ? cause : undefined;
  const reconciling = cause !== undefined && stalled === undefined ? cause : undefined;
  const degraded =
    connectedGateways.length > 0 && connectedGateways.length < gateways.length
      ? {
          reason: Reason.PartiallyConnected,
          message: `${connectedGateways.length} of ${plural(gateways.length, "gateway")} ${connectedGateways.length === 1 ? "holds" : "hold"} a live tunnel to a ready pod; ${describeDisconnected(gateways.filter((g) => !servesReadyPod(g)))}.`,
        }
      : undefined;

  const previous = (pf.status?.conditions ?? []).filter((c) => OWN_CONDITION_TYPES.has(c.type));
  let conditions: Condition[] = setCondition(previous, ready, now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Reconciling, reconciling, now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Stalled, stalled, now, generation);
  conditions = setCondition(conditions, targetVerdict.input, now, generation);
  conditions = setCondition(conditions, tunnelVerdict.input, now, generation);
  conditions = setCondition(conditions, serviceVerdict.input, now, generation);
  conditions = setAbnormalCondition(conditions, ConditionType.Degraded, degraded, now, generation);
  const accessDenied = accessDeniedCause(gateways, now);
  conditions = setAbnormalCondition(conditions, ConditionType.AccessDenied, accessDenied, now, generation);

  const targets: TargetStatus[] = resolved.targets.slice(0, MAX_LISTED_TARGETS).map((t) => {
    const via = connectedGateways
      .filter((g) => (g.connectedTargets ?? []).includes(t.pod))
      .map((g) => g.pod)
      .sort();
    return { pod: t.pod, ready: t.ready, ...(via.length === 0 ? {} : { gateways: via }) };
  });
  const connectedPods = [...readyPods].filter((pod) => connectedGateways.some((g) => (g.connectedTargets ?? []).includes(pod)));
  const clusterIP = ownService?.spec?.clusterIP;

  const status: ControllerStatus = {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    conditions,
    target: describeTarget(pf.spec.target),
    pods: `${readyPods.size}/${resolved.targets.length}`,
    serviceName,
    ...(clusterIP === undefined || clusterIP === "" ? {} : { clusterIP }),
    ...(allocation.ok ? { ports: allocation.ports } : {}),
    targets,
    totals: {
      pods: resolved.targets.length,
      readyPods: readyPods.size,
      connectedPods: connectedPods.length,
      gateways: gateways.length,
      connectedGateways: connectedGateways.length,
      activeConnections: gateways.reduce((sum, g) => sum + g.activeConnections, 0),
      reconnects: gateways.reduce((sum, g) => sum + g.reconnects, 0),
    },
  };

  return {
    service,
    endpointSlice,
    status,
    events: planEvents(pf.status?.conditions ?? [], conditions),
    requeueAfterMs: Math.min(
      blocking === undefined || stalled !== undefined ? REQUEUE_HEALTHY_MS : REQUEUE_PROGRESSING_MS,
      accessDenied?.expiresInMs ?? Number.POSITIVE_INFINITY,
    ),
  };
}

function planServiceVerdict(
  serviceName: string,
  conflict: boolean,
  allocation: AllocationResult,
  ownService: V1Service | undefined,
): Verdict {
  const type = ConditionType.ServiceReady;
  if (conflict) {
    return verdict(
      type,
      false,
      Reason.ServiceConflict,
      `Service ${serviceName} already exists and is not owned by this PortForward; set spec.service.name to another name or delete that Service.`,
    );
  }
  if (!allocation.ok) return verdict(type, false, allocation.reason, allocation.message);
  if (ownService === undefined) return verdict(type, false, Reason.ServicePending, `Service ${serviceName} is being created.`);
  const ports = allocation.ports.map((p) => `${p.port}→${p.gatewayPort}`).join(", ");
  const ip = ownService.spec?.clusterIP;
  return verdict(
    type,
    true,
    Reason.ServiceAvailable,
    `Service ${serviceName}${ip ? ` (${ip})` : ""} routes ports ${ports} (Service port → gateway port).`,
  );
}

function describeDisconnected(gateways: readonly GatewayStatus[]): string {
  return gateways
    .slice(0, 3)
    .map((g) => `${g.pod}: ${g.lastError ?? g.reason ?? "not connected"}`)
    .join("; ");
}

function planTunnelVerdict(
  resolved: ResolveResult,
  gateways: readonly GatewayStatus[],
  connected: readonly GatewayStatus[],
  namespace: string | undefined,
): Verdict {
  const type = ConditionType.TunnelConnected;
  if (!resolved.ok) {
    return verdict(
      type,
      false,
      resolved.reason,
      "No tunnel can carry traffic until a target pod is ready; see the TargetResolved condition.",
    );
  }
  if (gateways.length === 0) {
    return verdict(
      type,
      false,
      Reason.NoGatewayReporting,
      "No gateway replica has reported on this PortForward yet; check that the tunnelkeeper gateway pods are running and may read and update PortForwards.",
    );
  }
  if (connected.length > 0) {
    const protocols = [...new Set(connected.flatMap((g) => (g.protocol === undefined ? [] : [g.protocol])))].sort();
    return verdict(
      type,
      true,
      Reason.Connected,
      `${connected.length} of ${plural(gateways.length, "gateway")} ${connected.length === 1 ? "holds" : "hold"} a live tunnel to a ready pod${protocols.length === 0 ? "" : ` (protocol ${protocols.join(", ")})`}.`,
    );
  }
  const forbidden = gateways.find((g) => g.reason === Reason.Forbidden);
  if (forbidden !== undefined) {
    return verdict(
      type,
      false,
      Reason.Forbidden,
      `Gateway ${forbidden.pod} may not port-forward${forbidden.lastError ? ` (${forbidden.lastError})` : ""}; grant its ServiceAccount get and create on pods/portforward${namespace === undefined ? "" : ` in namespace ${namespace}`}.`,
    );
  }
  const unsupported = gateways.find((g) => g.reason === Reason.ProtocolUnsupported);
  if (unsupported !== undefined) {
    return verdict(
      type,
      false,
      Reason.ProtocolUnsupported,
      `Gateway ${unsupported.pod} cannot speak a port-forward protocol the API server accepts${unsupported.lastError ? ` (${unsupported.lastError})` : ""}; set spec.protocol to Auto.`,
    );
  }
  return verdict(
    type,
    false,
    Reason.Reconnecting,
    `No gateway holds a live tunnel to a ready pod yet; gateways are reconnecting (${describeDisconnected(gateways)}).`,
  );
}

/** Events on transitions only: a condition's (status, reason) changed between old and new. */
function planEvents(old: readonly Condition[], next: readonly Condition[]): PlannedEvent[] {
  const events: PlannedEvent[] = [];
  const changed = (type: string) => {
    const before = findCondition(old, type);
    const after = findCondition(next, type);
    const moved = before?.status !== after?.status || before?.reason !== after?.reason;
    return moved ? after : undefined;
  };
  const ready = changed(ConditionType.Ready);
  if (ready !== undefined) {
    if (ready.status === "True") {
      events.push({ type: "Normal", reason: ready.reason, action: "Reconcile", note: ready.message });
    } else if (!PROGRESS_REASONS.has(ready.reason)) {
      events.push({ type: "Warning", reason: ready.reason, action: "Reconcile", note: ready.message });
    }
  }
  const service = changed(ConditionType.ServiceReady);
  if (service?.status === "True") {
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
