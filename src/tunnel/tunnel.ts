/**
 * The Tunnel contract the gateway builds on, and the mapping from coded errors to close reasons.
 *
 * Lifecycle (discriminated union):  open ──GOAWAY──▶ draining ──▶ closed{reason}
 *                                    └──── close() / failure / keepalive timeout ──▶ closed{reason}
 * `closed` resolves exactly once with the reason; connections opened afterwards fail at once
 * with PF_ERR_TUNNEL_CLOSED. Connection errors never close the tunnel.
 */

import type { Duplex } from "node:stream";
import { type TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

/** The KEP-4006 WebSocket subprotocol carrying SPDY/3.1 port-forward. */
export const TUNNEL_SUBPROTOCOL = "SPDY/3.1+portforward.k8s.io";

export type TunnelProtocolSetting = "Auto" | "Tunnel" | "Legacy";

export type TunnelCloseReasonCode = "PodGone" | "Forbidden" | "ProtocolUnsupported" | "Network" | "KeepaliveTimeout" | "Closed";

export interface TunnelCloseReason {
  readonly reason: TunnelCloseReasonCode;
  readonly message: string;
  /** The coded error behind the close; null for a clean close. */
  readonly error: TunnelError | null;
}

export type TunnelState =
  | { readonly kind: "open" }
  | { readonly kind: "draining" }
  | { readonly kind: "closed"; readonly reason: TunnelCloseReason };

export interface TunnelCounters {
  readonly activeConnections: number;
  readonly totalConnections: number;
  /** Payload bytes received from the pod side (including error text). */
  readonly bytesIn: number;
  /** Payload bytes sent towards the pod. */
  readonly bytesOut: number;
}

export interface Tunnel {
  /** Wire protocol in use: `SPDY/3.1+portforward.k8s.io` or `v4.channel.k8s.io`. */
  readonly protocol: string;
  readonly state: TunnelState;
  readonly counters: TunnelCounters;
  readonly closed: Promise<TunnelCloseReason>;
  /** A new forwarded TCP connection to `port` of the pod; its errors are per connection and coded. */
  connect(port: number): Duplex;
  close(): void;
}

/** Maps a coded error to the tunnel close reason reported in status. */
export function closeReasonFor(error: TunnelError | null): TunnelCloseReason {
  if (error === null) return { reason: "Closed", message: "the tunnel was closed", error: null };
  const reason = ((): TunnelCloseReasonCode => {
    switch (error.code) {
      case TunnelErrorCode.Forbidden:
        return "Forbidden";
      case TunnelErrorCode.PodNotFound:
        return "PodGone";
      case TunnelErrorCode.UpgradeFailed:
      case TunnelErrorCode.SpdyProtocol:
      case TunnelErrorCode.SpdyCompression:
      case TunnelErrorCode.WebSocketProtocol:
      case TunnelErrorCode.ChannelProtocol:
        return "ProtocolUnsupported";
      case TunnelErrorCode.KeepaliveTimeout:
        return "KeepaliveTimeout";
      case TunnelErrorCode.Aborted:
        return "Closed";
      default:
        return "Network";
    }
  })();
  return { reason, message: error.message, error };
}
