/**
 * Readiness policies: the checks that say why a PortForward is not Ready, after cert-manager's
 * readiness policy chain (internal/controller/certificates/policies). Each policy is a small pure
 * function of the gathered ReadinessInput: it returns a failure (reason, message) while its problem
 * holds and undefined otherwise.
 *
 * Precedence contract:
 * - READY_POLICIES is ordered, and its order is the precedence: the first policy that fails sets
 *   Ready (status False, that reason and message); when none fails, Ready is True (Forwarding).
 * - It lists, first, a suspended PortForward (spec.suspend): a person chose it, so it is no problem
 *   at all — neither Stalled nor Reconciling (kstatus Current) — and whatever else holds while the
 *   tunnels are closed on purpose is not worth reporting. Then every problem a person must fix (reasons in STALLED_REASONS: kstatus
 *   Stalled), since waiting never clears them; then the problems that clear on their own, in the
 *   order the data path comes up: target, tunnel, Service.
 * - Each detail condition (TargetResolved, TunnelConnected, ServiceReady) is a chain of the same
 *   policies in its own order (`*_POLICIES` below), False with its first failure. So when Ready
 *   fails it carries, word for word, the reason and message of one of the detail conditions.
 * - A policy sits in several chains at different positions, so it never relies on another one
 *   having passed before it: it checks everything its problem depends on. That is what lets a
 *   policy be tested, and moved, on its own.
 */
import type { V1Service } from "@kubernetes/client-node";
import { Reason } from "../api/conditions.ts";
import type { PortForward } from "../api/portforward.ts";
import type { GatewayStatus } from "../api/status.ts";
import type { ResolveResult } from "../targets/resolve-targets.ts";
import type { AllocationResult } from "./allocate-ports.ts";

/** What the policies decide on, gathered from the observed state by plan's gather step. */
export interface ReadinessInput {
  readonly portForward: PortForward;
  readonly serviceName: string;
  /** A Service named `serviceName` exists in the namespace and is not this PortForward's. */
  readonly serviceConflict: boolean;
  /** The Service named `serviceName` when it is this PortForward's (as observed). */
  readonly ownService: V1Service | undefined;
  readonly allocation: AllocationResult;
  readonly resolved: ResolveResult;
  /** Names of the resolved target pods that are ready. */
  readonly readyPods: ReadonlySet<string>;
  /** Status entries of the running gateway pods. */
  readonly gateways: readonly GatewayStatus[];
  /** Those of `gateways` that hold a live tunnel to a ready target pod. */
  readonly connectedGateways: readonly GatewayStatus[];
}

/** Why a check failed: becomes a condition's reason and message (status False). */
export interface PolicyFailure {
  readonly reason: string;
  readonly message: string;
}

export type ReadinessPolicy = (input: ReadinessInput) => PolicyFailure | undefined;

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

export function isStalledReason(reason: string): boolean {
  return STALLED_REASONS.has(reason);
}

/** Whether Ready's reason is a choice, not a problem (spec.suspend): neither Stalled nor Reconciling. */
export function isSuspendedReason(reason: string): boolean {
  return reason === Reason.Suspended;
}

/** The failure of the first policy that fails, in list order; undefined when all pass. */
export function firstFailure(policies: readonly ReadinessPolicy[], input: ReadinessInput): PolicyFailure | undefined {
  for (const policy of policies) {
    const failure = policy(input);
    if (failure !== undefined) return failure;
  }
  return undefined;
}

/** spec.suspend is true: the gateways close the tunnels and listeners; Service and ports are kept. */
export function suspended(input: ReadinessInput): PolicyFailure | undefined {
  if (input.portForward.spec.suspend !== true) return undefined;
  const ports = input.allocation.ok ? ` (gateway ports ${input.allocation.ports.map((p) => p.gatewayPort).join(", ")})` : "";
  return {
    reason: Reason.Suspended,
    message: `spec.suspend is true: the gateways have closed the tunnels and refuse connections; Service ${input.serviceName} and its ports${ports} are kept. Set spec.suspend to false to resume.`,
  };
}

/** The Service name is taken by a Service this PortForward does not own; nothing is applied. */
export function serviceNameTaken(input: ReadinessInput): PolicyFailure | undefined {
  if (!input.serviceConflict) return undefined;
  return {
    reason: Reason.ServiceConflict,
    message: `Service ${input.serviceName} already exists and is not owned by this PortForward; set spec.service.name to another name or delete that Service.`,
  };
}

/** No gateway port could be allocated for some spec port; nothing is applied. */
export function gatewayPortsNotAllocated(input: ReadinessInput): PolicyFailure | undefined {
  const { allocation } = input;
  return allocation.ok ? undefined : { reason: allocation.reason, message: allocation.message };
}

/** The Service is ours to apply (free name, gateway ports) but has not been observed yet. */
export function serviceNotObserved(input: ReadinessInput): PolicyFailure | undefined {
  if (input.serviceConflict || !input.allocation.ok || input.ownService !== undefined) return undefined;
  return { reason: Reason.ServicePending, message: `Service ${input.serviceName} is being created.` };
}

/** The target does not resolve to a ready pod with every port, for whatever reason. */
export function targetUnresolved(input: ReadinessInput): PolicyFailure | undefined {
  const { resolved } = input;
  return resolved.ok ? undefined : { reason: resolved.reason, message: resolved.message };
}

/** The target does not resolve for a reason only a person can fix (a port the pod lacks, UDP, …). */
export function targetStalled(input: ReadinessInput): PolicyFailure | undefined {
  const failure = targetUnresolved(input);
  return failure !== undefined && isStalledReason(failure.reason) ? failure : undefined;
}

/** TunnelConnected's view of an unresolved target: no tunnel can help until it resolves. */
export function tunnelWaitsForTarget(input: ReadinessInput): PolicyFailure | undefined {
  const { resolved } = input;
  if (resolved.ok) return undefined;
  return {
    reason: resolved.reason,
    message: "No tunnel can carry traffic until a target pod is ready; see the TargetResolved condition.",
  };
}

/** No running gateway has written a status entry for this PortForward. */
export function noGatewayReporting(input: ReadinessInput): PolicyFailure | undefined {
  if (input.gateways.length > 0) return undefined;
  return {
    reason: Reason.NoGatewayReporting,
    message:
      "No gateway replica has reported on this PortForward yet; check that the tunnelkeeper gateway pods are running and may read and update PortForwards.",
  };
}

/**
 * Whether the gateways' own reports explain the tunnel: the target resolves, gateways report, and
 * none holds a live tunnel to a ready pod. While the target does not resolve, the tunnel waits for
 * it (tunnelWaitsForTarget); while one gateway is connected, a failing other one is only Degraded.
 */
function gatewaysReportNoLiveTunnel(input: ReadinessInput): boolean {
  return input.resolved.ok && input.gateways.length > 0 && input.connectedGateways.length === 0;
}

/** A gateway's ServiceAccount may not port-forward to the target pods (RBAC). */
export function gatewayForbidden(input: ReadinessInput): PolicyFailure | undefined {
  if (!gatewaysReportNoLiveTunnel(input)) return undefined;
  const forbidden = input.gateways.find((g) => g.reason === Reason.Forbidden);
  if (forbidden === undefined) return undefined;
  const namespace = input.portForward.metadata.namespace;
  return {
    reason: Reason.Forbidden,
    message: `Gateway ${forbidden.pod} may not port-forward${forbidden.lastError ? ` (${forbidden.lastError})` : ""}; grant its ServiceAccount get and create on pods/portforward${namespace === undefined ? "" : ` in namespace ${namespace}`}.`,
  };
}

/** A gateway speaks no port-forward protocol the API server accepts (spec.protocol pins one). */
export function gatewayProtocolUnsupported(input: ReadinessInput): PolicyFailure | undefined {
  if (!gatewaysReportNoLiveTunnel(input)) return undefined;
  const unsupported = input.gateways.find((g) => g.reason === Reason.ProtocolUnsupported);
  if (unsupported === undefined) return undefined;
  return {
    reason: Reason.ProtocolUnsupported,
    message: `Gateway ${unsupported.pod} cannot speak a port-forward protocol the API server accepts${unsupported.lastError ? ` (${unsupported.lastError})` : ""}; set spec.protocol to Auto.`,
  };
}

/** Gateways report, but none holds a live tunnel to a ready pod yet: they are reconnecting. */
export function noLiveTunnel(input: ReadinessInput): PolicyFailure | undefined {
  if (!gatewaysReportNoLiveTunnel(input)) return undefined;
  return {
    reason: Reason.Reconnecting,
    message: `No gateway holds a live tunnel to a ready pod yet; gateways are reconnecting (${describeDisconnected(input.gateways)}).`,
  };
}

/** The first three gateways of `gateways` and why each is not connected, for messages. */
export function describeDisconnected(gateways: readonly GatewayStatus[]): string {
  return gateways
    .slice(0, 3)
    .map((g) => `${g.pod}: ${g.lastError ?? g.reason ?? "not connected"}`)
    .join("; ");
}

/** The precedence of Ready's reason; see the header for the contract. */
export const READY_POLICIES: readonly ReadinessPolicy[] = [
  // Suspended on purpose: not a problem, and it explains why no tunnel is open, whatever else holds.
  suspended,
  // Stalled: a person must act, so these come first, as the only thing worth telling them.
  // Nothing is applied while the name is taken, so the conflict outranks everything else.
  serviceNameTaken,
  // Nothing is applied without gateway ports either; after the conflict, which ServiceReady names first.
  gatewayPortsNotAllocated,
  // The spec names a target that cannot work (no such port, UDP): no gateway could ever reach it.
  targetStalled,
  // Gateway RBAC, only once the target resolves. Before the protocol: the API server checks RBAC
  // before it negotiates a protocol, so fixing the protocol alone would leave the tunnel refused.
  gatewayForbidden,
  gatewayProtocolUnsupported,
  // Progressing: these clear on their own, so they are named in the order the data path comes up.
  // No ready target pod: nothing to tunnel to, whatever the gateways do.
  targetUnresolved,
  // No gateway report: until one reports, Ready says so rather than blaming the tunnels.
  noGatewayReporting,
  noLiveTunnel,
  // The Service is applied by this very reconcile and observed soon after: the last step, named last.
  serviceNotObserved,
];

export const TARGET_RESOLVED_POLICIES: readonly ReadinessPolicy[] = [targetUnresolved];

/** TunnelConnected: suspended, the target (see the TargetResolved condition), then the gateways' reports. */
export const TUNNEL_CONNECTED_POLICIES: readonly ReadinessPolicy[] = [
  // The tunnels are closed on purpose; the target may well resolve.
  suspended,
  tunnelWaitsForTarget,
  noGatewayReporting,
  gatewayForbidden,
  gatewayProtocolUnsupported,
  noLiveTunnel,
];

/** ServiceReady: in the order the Service is made: a free name, gateway ports, then observed. */
export const SERVICE_READY_POLICIES: readonly ReadinessPolicy[] = [serviceNameTaken, gatewayPortsNotAllocated, serviceNotObserved];
