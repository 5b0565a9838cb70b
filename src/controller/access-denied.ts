/**
 * The AccessDenied condition (pure): present while some gateway replica refused a connection
 * within the last ACCESS_DENIED_WINDOW_MS, gone once that long has passed without a refusal.
 * It explains who was refused and how to admit them if they should be; it never touches Ready
 * (allowed clients are served all along). Gateways report refusals in their own status entry
 * (`deniedConnections`, `lastDenied`), rate-limited; the controller only reads them.
 */
import { Reason } from "../api/conditions.ts";
import type { GatewayStatus } from "../api/status.ts";

export const ACCESS_DENIED_WINDOW_MS = 10 * 60_000;

export interface AccessDeniedCause {
  readonly reason: string;
  readonly message: string;
  /** When the condition lapses unless another refusal is reported. */
  readonly expiresInMs: number;
}

export function accessDeniedCause(gateways: readonly GatewayStatus[], now: Date): AccessDeniedCause | undefined {
  const recent = gateways
    .flatMap((g) => (g.lastDenied === undefined ? [] : [{ gateway: g, last: g.lastDenied, at: Date.parse(g.lastDenied.time) }]))
    .filter((d) => now.getTime() - d.at < ACCESS_DENIED_WINDOW_MS)
    .sort((a, b) => b.at - a.at);
  const latest = recent[0];
  if (latest === undefined) return undefined;
  const total = gateways.reduce((sum, g) => sum + (g.deniedConnections ?? 0), 0);
  const who = latest.last.client === undefined ? latest.last.source : `${latest.last.source} (pod ${latest.last.client})`;
  const fix =
    latest.last.reason === Reason.SourceUnknown
      ? "the address is no pod the gateway knows (outside the cluster, SNAT or a node address); if it should connect, add an ipBlock peer for it to spec.access.from"
      : "no peer of spec.access.from admits this pod (without spec.access only pods of this namespace may connect); if it should connect, add a podSelector/namespaceSelector peer for it";
  return {
    reason: latest.last.reason,
    message: `Refused a connection from ${who} at ${latest.last.time} on gateway ${latest.gateway.pod}: ${fix}. ${total} connection${total === 1 ? "" : "s"} refused since the gateways started; every refusal is in the gateway access log and tunnelkeeper_gateway_connections_denied_total.`,
    expiresInMs: Math.max(1_000, latest.at + ACCESS_DENIED_WINDOW_MS - now.getTime()),
  };
}
