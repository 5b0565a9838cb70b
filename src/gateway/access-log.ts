/**
 * The access log (pure): one record per client connection, written when the connection ends,
 * at info level under the message "Client connection ended".
 *
 * It is the audit trail the API server cannot give: the API server's audit log records only
 * that the gateway's ServiceAccount opened a tunnel to a pod, never which client used it. Each
 * record names the PortForward, the client (address and port; namespace and pod when the
 * gateway could attribute the address), the target pod, the gateway replica, payload bytes each
 * way, the duration and the result:
 *
 * | result | meaning |
 * |---|---|
 * | `ok` | both sides closed normally |
 * | `denied` | spec.access does not admit the client; reset at once (`reason`: source_unknown, peer_not_allowed) |
 * | `upstream_error` | the pod side failed (refused port, tunnel lost); the client was reset |
 * | `client_error` | the client side failed (reset, timeout) |
 * | `no_target` | no ready target pod with an open tunnel within the wait; the client was reset |
 * | `draining` | the gateway was shutting down |
 */
import type { ConnectionRecord } from "./forwarder.ts";

export const ACCESS_LOG_MESSAGE = "Client connection ended";

export function accessLogFields(portforward: string, gateway: string, record: ConnectionRecord): Record<string, unknown> {
  return {
    portforward,
    gateway,
    client: record.clientAddress,
    ...(record.clientPort === undefined ? {} : { clientPort: record.clientPort }),
    ...(record.client === undefined ? {} : { clientNamespace: record.client.namespace, clientPod: record.client.name }),
    port: record.port,
    ...(record.targetPod === undefined ? {} : { targetPod: record.targetPod }),
    bytesUp: record.bytesUp,
    bytesDown: record.bytesDown,
    durationMs: Math.round(record.durationMs * 10) / 10,
    result: record.result === "completed" ? "ok" : record.result,
    ...(record.decision !== undefined && !record.decision.allowed ? { reason: record.decision.reason } : {}),
    ...(record.error === undefined ? {} : { error: record.error }),
  };
}
