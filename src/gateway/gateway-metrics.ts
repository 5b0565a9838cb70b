/**
 * Gateway metrics (Prometheus names under `tunnelkeeper_gateway_`). Labels stay low-cardinality:
 * PortForward namespace/name where it helps alerting, never pod names or client addresses.
 */
import type { Registry } from "../observability/metrics.ts";
import type { DenialReason } from "./access-decision.ts";

const DIAL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type ConnectionResult = "completed" | "client_error" | "upstream_error" | "no_target" | "draining" | "denied";

export interface GatewayMetrics {
  tunnelUp(portforward: string, delta: 1 | -1): void;
  connectionOpened(portforward: string): void;
  connectionClosed(portforward: string, result: ConnectionResult): void;
  /** A connection refused by the PortForward's spec.access (reset at once; never opened). */
  connectionDenied(portforward: string, reason: DenialReason): void;
  bytes(portforward: string, direction: "up" | "down", count: number): void;
  dialed(result: string, seconds: number): void;
  reconnect(reason: string): void;
  /** A listener for one of the PortForward's gateway ports could not be opened (e.g. EADDRINUSE). */
  listenFailed(portforward: string): void;
  /** A listener that is listening reported an error (e.g. accept failing with EMFILE); it goes on listening. */
  listenerError(portforward: string): void;
  /** Tunnels of a PortForward this replica stands by for, closed after the idle period. */
  idleTunnelsClosed(count: number): void;
  /** How many PortForwards this replica serves as an assigned gateway, and stands by for. */
  portForwards(assigned: number, standby: number): void;
}

export function registerGatewayMetrics(registry: Registry): GatewayMetrics {
  const tunnels = registry.gauge({
    name: "tunnelkeeper_gateway_tunnels_up",
    help: "Tunnels to target pods that are open, per PortForward",
    labelNames: ["portforward"],
  });
  const active = registry.gauge({
    name: "tunnelkeeper_gateway_connections_active",
    help: "Client connections open through the gateway, per PortForward",
    labelNames: ["portforward"],
  });
  const total = registry.counter({
    name: "tunnelkeeper_gateway_connections_total",
    help: "Client connections handled, by PortForward and result",
    labelNames: ["portforward", "result"],
  });
  const denied = registry.counter({
    name: "tunnelkeeper_gateway_connections_denied_total",
    help: "Client connections refused because spec.access does not admit the source, by PortForward and reason (source_unknown, peer_not_allowed)",
    labelNames: ["portforward", "reason"],
  });
  const bytes = registry.counter({
    name: "tunnelkeeper_gateway_bytes_total",
    help: "Payload bytes forwarded, per PortForward; direction up is client to pod, down is pod to client",
    labelNames: ["portforward", "direction"],
  });
  const dial = registry.histogram({
    name: "tunnelkeeper_gateway_dial_duration_seconds",
    help: "Time to open a tunnel to a pod (WebSocket upgrade through the API server), by result",
    labelNames: ["result"],
    buckets: DIAL_BUCKETS,
  });
  const reconnects = registry.counter({
    name: "tunnelkeeper_gateway_reconnects_total",
    help: "Tunnels that ended and were redialled, by the reason they ended",
    labelNames: ["reason"],
  });
  const listenErrors = registry.counter({
    name: "tunnelkeeper_gateway_listen_errors_total",
    help: "Gateway ports that could not be listened on (the PortForward is not served by this replica), per PortForward",
    labelNames: ["portforward"],
  });
  const listenerErrors = registry.counter({
    name: "tunnelkeeper_gateway_listener_errors_total",
    help: "Errors reported by gateway listeners that are listening (e.g. accept failing with EMFILE), per PortForward",
    labelNames: ["portforward"],
  });
  const idleCloses = registry.counter({
    name: "tunnelkeeper_gateway_idle_tunnel_closes_total",
    help: "Tunnels closed because this replica only stands by for their PortForward (its assigned gateways do not list it) and no connection used them for the idle period",
  });
  const portForwards = registry.gauge({
    name: "tunnelkeeper_gateway_portforwards",
    help: "PortForwards this replica serves, by role: assigned (keeps their tunnels open, listed in their EndpointSlice) or standby (opens a tunnel only for a connection that reaches it)",
    labelNames: ["role"],
  });
  idleCloses.inc({}, 0);
  portForwards.set({ role: "assigned" }, 0);
  portForwards.set({ role: "standby" }, 0);
  return {
    tunnelUp: (portforward, delta) => tunnels.inc({ portforward }, delta),
    connectionOpened: (portforward) => active.inc({ portforward }),
    connectionClosed: (portforward, result) => {
      active.dec({ portforward });
      total.inc({ portforward, result });
    },
    connectionDenied: (portforward, reason) => {
      denied.inc({ portforward, reason });
      total.inc({ portforward, result: "denied" });
    },
    bytes: (portforward, direction, count) => bytes.inc({ portforward, direction }, count),
    dialed: (result, seconds) => dial.observe({ result }, seconds),
    reconnect: (reason) => reconnects.inc({ reason }),
    listenFailed: (portforward) => listenErrors.inc({ portforward }),
    listenerError: (portforward) => listenerErrors.inc({ portforward }),
    idleTunnelsClosed: (count) => idleCloses.inc({}, count),
    portForwards: (assigned, standby) => {
      portForwards.set({ role: "assigned" }, assigned);
      portForwards.set({ role: "standby" }, standby);
    },
  };
}

/** Metrics that go nowhere (the `forward` command and tests without a registry). */
export const NO_GATEWAY_METRICS: GatewayMetrics = {
  tunnelUp: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  connectionDenied: () => undefined,
  bytes: () => undefined,
  dialed: () => undefined,
  reconnect: () => undefined,
  listenFailed: () => undefined,
  listenerError: () => undefined,
  idleTunnelsClosed: () => undefined,
  portForwards: () => undefined,
};
