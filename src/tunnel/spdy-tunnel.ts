/**
 * Tunnel over one KEP-4006 WebSocket (`SPDY/3.1+portforward.k8s.io`) carrying a SPDY session;
 * each `connect(port)` is an error+data stream pair with its own `requestid` (0, 1, 2, …).
 *
 * Contract: SPDY PING every `keepaliveIntervalMs` (kubectl: 10 s); no echo within
 * `keepaliveTimeoutMs` while reading is not paused by us ⇒ the tunnel is dead
 * (KeepaliveTimeout) and every connection fails with PF_ERR_TUNNEL_CLOSED. The transport adds
 * WebSocket pings for proxies. GOAWAY from the peer moves the tunnel to `draining`: no new
 * connections, existing ones run to their end. Constructing starts nothing; `start()` does.
 */

import type { Duplex } from "node:stream";
import type { ByteTransport } from "./byte-transport.ts";
import type { Clock } from "./clock.ts";
import { Keepalive } from "./keepalive.ts";
import { PortForwardConnection } from "./port-forward-connection.ts";
import { SpdySession } from "./spdy-session.ts";
import {
  closeReasonFor,
  TUNNEL_SUBPROTOCOL,
  type Tunnel,
  type TunnelCloseReason,
  type TunnelCounters,
  type TunnelState,
} from "./tunnel.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

export interface SpdyTunnelOptions {
  readonly transport: ByteTransport;
  readonly clock: Clock;
  /** 0 disables SPDY pings. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxDataFramePayload?: number;
}

export class SpdyTunnel implements Tunnel {
  readonly protocol = TUNNEL_SUBPROTOCOL;
  readonly closed: Promise<TunnelCloseReason>;
  readonly #session: SpdySession;
  readonly #keepalive: Keepalive | null;
  #state: TunnelState = { kind: "open" };
  #resolveClosed: (reason: TunnelCloseReason) => void = () => {};
  #nextRequestId = 0;
  #active = 0;

  constructor(options: SpdyTunnelOptions) {
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#session = new SpdySession(options.transport, {
      defer: options.clock.defer,
      ...(options.maxDataFramePayload === undefined ? {} : { maxDataFramePayload: options.maxDataFramePayload }),
      onPong: () => this.#keepalive?.notePong(),
      onGoAway: () => {
        if (this.#state.kind === "open") this.#state = { kind: "draining" };
      },
      onClose: (error) => this.#onSessionClose(error),
    });
    this.#keepalive =
      options.keepaliveIntervalMs > 0
        ? new Keepalive({
            clock: options.clock,
            intervalMs: options.keepaliveIntervalMs,
            timeoutMs: options.keepaliveTimeoutMs,
            sendPing: () => this.#session.ping(),
            onTimeout: () =>
              this.#session.destroy(
                new TunnelError(
                  TunnelErrorCode.KeepaliveTimeout,
                  `no SPDY PING answer within ${options.keepaliveTimeoutMs} ms; the tunnel is considered dead`,
                ),
              ),
            isInboundPaused: () => this.#session.readingPaused,
            progress: () => options.transport.progressBytes ?? 0,
          })
        : null;
  }

  start(): void {
    this.#session.start();
    this.#keepalive?.start();
  }

  get state(): TunnelState {
    return this.#state;
  }

  get counters(): TunnelCounters {
    return {
      activeConnections: this.#active,
      totalConnections: this.#nextRequestId,
      bytesIn: this.#session.bytesIn,
      bytesOut: this.#session.bytesOut,
    };
  }

  connect(port: number): Duplex {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TunnelError(TunnelErrorCode.PortForward, `port ${port} is not in 1-65535`);
    }
    const connection = new PortForwardConnection({
      session: this.#session,
      port,
      requestId: String(this.#nextRequestId++),
    });
    this.#active++;
    connection.once("close", () => {
      this.#active--;
    });
    return connection;
  }

  close(): void {
    this.#session.close();
  }

  #onSessionClose(error: TunnelError | null): void {
    this.#keepalive?.stop();
    if (this.#state.kind === "closed") return;
    const reason = closeReasonFor(error);
    this.#state = { kind: "closed", reason };
    this.#resolveClosed(reason);
  }
}
