/**
 * src/tunnel — the port-forward tunnel engine: a pure SPDY/3.1 codec, a SPDY client session,
 * port-forward connections as Duplexes, the legacy v4 channel protocol, and WebSocket
 * transports to `pods/portforward` with automatic protocol negotiation and keepalive.
 * The gateway uses `openTunnel`, `Tunnel`, `closeReasonFor` and `TunnelError`.
 */

export type { ByteTransport, TransportSink } from "./byte-transport.ts";
export { type Clock, systemClock, type TimerHandle } from "./clock.ts";
export { classifyHandshakeFailure, HandshakeError } from "./handshake-failure.ts";
export { V4_CHANNEL_PROTOCOL } from "./legacy-v4-demuxer.ts";
export { DEFAULT_KEEPALIVE_INTERVAL_MS, type OpenTunnelOptions, openTunnel } from "./open-tunnel.ts";
export {
  closeReasonFor,
  TUNNEL_SUBPROTOCOL,
  type Tunnel,
  type TunnelCloseReason,
  type TunnelCloseReasonCode,
  type TunnelCounters,
  type TunnelProtocolSetting,
  type TunnelState,
} from "./tunnel.ts";
export { isTunnelError, TunnelError, TunnelErrorCode } from "./tunnel-error.ts";
export { portForwardUrl } from "./websocket-dialer.ts";
