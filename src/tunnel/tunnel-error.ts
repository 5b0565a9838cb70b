/**
 * Coded errors for the tunnel engine (ws `WS_ERR_*` / undici `UND_ERR_*` style).
 *
 * Contract: every error that leaves `src/tunnel` is a `TunnelError` with a stable `code`;
 * callers branch on `code` (or on the close reason derived from it), never on message text.
 * Anything unexpected caught deep inside the codec is wrapped with `cause` set.
 */

/** Stable error codes. One reference table: the TSDoc of each entry. */
export const TunnelErrorCode = {
  /** A SPDY frame was malformed or not allowed (peer bug or stream corruption). Fatal for the tunnel. */
  SpdyProtocol: "PF_ERR_SPDY_PROTOCOL",
  /** A SPDY header block could not be (de)compressed with the shared zlib context. Fatal for the tunnel. */
  SpdyCompression: "PF_ERR_SPDY_COMPRESSION",
  /** The peer reset one stream (RST_STREAM); per connection. */
  StreamReset: "PF_ERR_STREAM_RESET",
  /** The runtime wrote text on the connection's error stream/channel (e.g. connection refused); per connection. */
  PortForward: "PF_ERR_PORT_FORWARD",
  /** The tunnel closed while the connection was open; per connection, `cause` says why. */
  TunnelClosed: "PF_ERR_TUNNEL_CLOSED",
  /** All 2^30 client stream ids of this SPDY session are used up; open a new tunnel. */
  StreamIdsExhausted: "PF_ERR_STREAM_IDS_EXHAUSTED",
  /** The peer sent GOAWAY. */
  GoAway: "PF_ERR_GOAWAY",
  /** The API server answered 401/403 to the upgrade. */
  Forbidden: "PF_ERR_FORBIDDEN",
  /** The API server answered 404 to the upgrade (pod, or namespace, does not exist). */
  PodNotFound: "PF_ERR_POD_NOT_FOUND",
  /** Any other non-101 answer, or a subprotocol the client did not offer. */
  UpgradeFailed: "PF_ERR_UPGRADE_FAILED",
  /** DNS, TCP, TLS or socket failure, or the WebSocket closed unexpectedly. */
  Network: "PF_ERR_NETWORK",
  /** A SPDY PING or WebSocket ping was not answered in time. */
  KeepaliveTimeout: "PF_ERR_KEEPALIVE_TIMEOUT",
  /** The peer sent a text WebSocket message on a binary-only protocol. Fatal. */
  WebSocketProtocol: "PF_ERR_WS_PROTOCOL",
  /** The legacy v4 channel protocol was violated (unknown channel, short port prefix). */
  ChannelProtocol: "PF_ERR_CHANNEL_PROTOCOL",
  /** The operation was aborted by the caller's AbortSignal or close(). */
  Aborted: "PF_ERR_ABORTED",
} as const;

export type TunnelErrorCode = (typeof TunnelErrorCode)[keyof typeof TunnelErrorCode];

export class TunnelError extends Error {
  override readonly name = "TunnelError";
  readonly code: TunnelErrorCode;

  constructor(code: TunnelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isTunnelError(value: unknown): value is TunnelError {
  return value instanceof TunnelError;
}

/** Wraps anything thrown deep inside into a coded error, keeping coded errors unchanged. */
export function toTunnelError(value: unknown, code: TunnelErrorCode, message: string): TunnelError {
  if (value instanceof TunnelError) return value;
  return new TunnelError(code, message, { cause: value });
}
