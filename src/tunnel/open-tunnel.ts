/**
 * Dials a tunnel to a pod with protocol negotiation.
 *
 * Negotiation (kubectl's fallback rule, portforward-protocol.md §3):
 *  - `Tunnel`: WebSocket with `SPDY/3.1+portforward.k8s.io` only.
 *  - `Legacy`: `v4.channel.k8s.io`, one WebSocket per connection (dialled lazily by `connect`).
 *  - `Auto`: try the tunnel; if the upgrade is refused with a non-101 answer (or a foreign
 *    subprotocol) fall back to Legacy. Network errors never fall back. 401/403/404 do not fall
 *    back either: the legacy upgrade is the same GET on the same pod, checked by the same RBAC
 *    rules, so it would only hide the real reason behind a later per-connection failure.
 *    The legacy path is not probed here (a probe would need a port and dial the pod); its
 *    handshake failures surface on the first `connect` and close the tunnel with their reason.
 *
 * Failures reject with a coded TunnelError (use `closeReasonFor(error)` for the status reason).
 */
import type { KubeConnection } from "../kube/connection.ts";
import { type Clock, systemClock } from "./clock.ts";
import { HandshakeError } from "./handshake-failure.ts";
import { LegacyTunnel } from "./legacy-tunnel.ts";
import { V4_CHANNEL_PROTOCOL } from "./legacy-v4-demuxer.ts";
import { SpdyTunnel } from "./spdy-tunnel.ts";
import { TUNNEL_SUBPROTOCOL, type Tunnel, type TunnelProtocolSetting } from "./tunnel.ts";
import { TunnelErrorCode } from "./tunnel-error.ts";
import { type DialedWebSocket, type DialOptions, dialWebSocket } from "./websocket-dialer.ts";
import { type WebSocketDelivery, WebSocketTransport } from "./websocket-transport.ts";

export interface OpenTunnelOptions {
  readonly kubeConfig: KubeConnection;
  readonly namespace: string;
  readonly pod: string;
  readonly protocol?: TunnelProtocolSetting;
  /** SPDY PING and WebSocket ping period; default 10 s; 0 disables keepalive. */
  readonly keepaliveIntervalMs?: number;
  /** How long a ping may stay unanswered; default 2 × interval. */
  readonly keepaliveTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Aborting cancels the dial, and closes the tunnel once open. */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Injection point for tests; defaults to dialWebSocket. */
  readonly dial?: (options: DialOptions) => Promise<DialedWebSocket>;
}

export const DEFAULT_KEEPALIVE_INTERVAL_MS = 10_000;

export async function openTunnel(options: OpenTunnelOptions): Promise<Tunnel> {
  const protocol = options.protocol ?? "Auto";
  const clock = options.clock ?? systemClock;
  const intervalMs = options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
  const timeoutMs = options.keepaliveTimeoutMs ?? intervalMs * 2;
  const dial = options.dial ?? dialWebSocket;
  const dialOptions = (subprotocol: string, ports?: readonly number[]): DialOptions => ({
    kubeConfig: options.kubeConfig,
    namespace: options.namespace,
    pod: options.pod,
    subprotocol,
    ...(ports === undefined ? {} : { ports }),
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  // SPDY parses a byte stream; legacy v4 reads a channel byte at the start of every message.
  const transportFor = (dialed: DialedWebSocket, delivery: WebSocketDelivery): WebSocketTransport =>
    new WebSocketTransport(dialed.socket, {
      clock,
      delivery,
      headBytes: dialed.headBytes,
      nextMaskKey: dialed.nextMaskKey,
      pingIntervalMs: intervalMs,
      pingTimeoutMs: timeoutMs,
    });

  const legacy = (): LegacyTunnel =>
    withAbort(
      new LegacyTunnel({
        clock,
        openTransport: async (port) => transportFor(await dial(dialOptions(V4_CHANNEL_PROTOCOL, [port])), "message"),
      }),
      options.signal,
    );

  if (protocol === "Legacy") return legacy();
  let dialed: DialedWebSocket;
  try {
    dialed = await dial(dialOptions(TUNNEL_SUBPROTOCOL));
  } catch (error) {
    if (protocol === "Auto" && isFallbackWorthy(error)) return legacy();
    throw error;
  }
  const tunnel = new SpdyTunnel({
    transport: transportFor(dialed, "stream"),
    clock,
    keepaliveIntervalMs: intervalMs,
    keepaliveTimeoutMs: timeoutMs,
  });
  tunnel.start();
  return withAbort(tunnel, options.signal);
}

function isFallbackWorthy(error: unknown): boolean {
  return error instanceof HandshakeError && error.code === TunnelErrorCode.UpgradeFailed;
}

function withAbort<T extends Tunnel>(tunnel: T, signal: AbortSignal | undefined): T {
  if (signal === undefined) return tunnel;
  if (signal.aborted) {
    tunnel.close();
    return tunnel;
  }
  const onAbort = (): void => tunnel.close();
  signal.addEventListener("abort", onAbort, { once: true });
  tunnel.closed.then(
    () => signal.removeEventListener("abort", onAbort),
    () => signal.removeEventListener("abort", onAbort),
  );
  return tunnel;
}
