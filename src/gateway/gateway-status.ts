/**
 * This replica's entry in a PortForward's `status.gateways` (pure). Each replica applies only its
 * own entry, under its own field manager, so replicas never conflict (status.ts explains the
 * ownership). Counters change with every connection, so they alone do not force a write: the
 * reporter writes at once on a significant change and at most every few seconds otherwise.
 */
import { Reason } from "../api/conditions.ts";
import type { GatewayProtocol, GatewayStatus } from "../api/status.ts";
import { TUNNEL_SUBPROTOCOL } from "../tunnel/index.ts";
import type { ForwarderSnapshot } from "./forwarder.ts";

export const COUNTER_REPORT_INTERVAL_MS = 5_000;
const MAX_ERROR_LENGTH = 1024;

function protocolName(wire: string | undefined): GatewayProtocol | undefined {
  if (wire === undefined) return undefined;
  return wire === TUNNEL_SUBPROTOCOL ? "Tunnel" : "Legacy";
}

function reasonFor(snapshot: ForwarderSnapshot, hasReadyTargets: boolean, suspended: boolean): string | undefined {
  if (suspended) return Reason.Suspended;
  if (snapshot.connectedTargets.length > 0) return undefined;
  if (!hasReadyTargets) return Reason.NoReadyPods;
  switch (snapshot.lastFailure?.reason) {
    case "Forbidden":
      return Reason.Forbidden;
    case "ProtocolUnsupported":
      return Reason.ProtocolUnsupported;
    default:
      return Reason.Reconnecting;
  }
}

/** Connections this replica refused for one PortForward (spec.access). */
export interface DenialSummary {
  readonly count: number;
  readonly last: NonNullable<GatewayStatus["lastDenied"]>;
}

export function buildGatewayEntry(
  pod: string,
  snapshot: ForwarderSnapshot,
  hasReadyTargets: boolean,
  previous: GatewayStatus | undefined,
  now: Date,
  denials?: DenialSummary,
  /** spec.suspend: tunnels and listeners are closed on purpose; the entry says Suspended. */
  suspended = false,
): GatewayStatus {
  // Connected means this replica carries traffic: a live tunnel to a ready pod AND a listener on
  // every allocated gateway port. A tunnel alone is not enough: the controller's Ready would say
  // the data path works while clients of this replica are still refused (a port may fail to
  // bind, or a new gateway port reach the gateway after its tunnel opened).
  const connected = snapshot.connectedTargets.length > 0 && snapshot.serving;
  const reason = reasonFor(snapshot, hasReadyTargets, suspended);
  const protocol = protocolName(snapshot.protocol);
  // A listener or tunnel failure explains more than one failed connection, so it comes first.
  const error = snapshot.listenErrors[0] ?? snapshot.lastFailure?.message ?? snapshot.lastConnectionError;
  return {
    pod,
    connected,
    ...(snapshot.connectedTargets.length > 0 ? { connectedTargets: [...snapshot.connectedTargets] } : {}),
    ...(protocol === undefined ? {} : { protocol }),
    activeConnections: snapshot.activeConnections,
    reconnects: snapshot.reconnects,
    ...(reason === undefined ? {} : { reason }),
    ...(error === undefined ? {} : { lastError: error.slice(0, MAX_ERROR_LENGTH) }),
    ...(denials === undefined ? {} : { deniedConnections: denials.count, lastDenied: denials.last }),
    since: previous !== undefined && previous.connected === connected && previous.since !== undefined ? previous.since : now.toISOString(),
  };
}

/**
 * Whether `next` differs from `previous` in more than its counters (so it is written at once).
 * Refusals count as counters, except the first one (so the AccessDenied condition appears at
 * once): a client retrying in a loop must not turn into a status write per attempt.
 */
export function isSignificantChange(previous: GatewayStatus | undefined, next: GatewayStatus): boolean {
  if (previous === undefined) return true;
  if (previous.lastDenied === undefined && next.lastDenied !== undefined) return true;
  const strip = ({ activeConnections: _a, reconnects: _r, deniedConnections: _d, lastDenied: _l, ...rest }: GatewayStatus) =>
    JSON.stringify(rest);
  return strip(previous) !== strip(next);
}

export function countersChanged(previous: GatewayStatus | undefined, next: GatewayStatus): boolean {
  return (
    previous === undefined ||
    previous.activeConnections !== next.activeConnections ||
    previous.reconnects !== next.reconnects ||
    previous.deniedConnections !== next.deniedConnections
  );
}
