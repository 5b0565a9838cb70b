/**
 * "Tunnel" over the legacy `v4.channel.k8s.io` protocol: there is no shared connection, so each
 * `connect(port)` dials its own WebSocket with `?ports=<port>` (one API-server request and one
 * pod dial per TCP connection).
 *
 * Contract: the tunnel stays `open` until `close()`, or until a connection's dial fails in a way
 * that concerns every connection (PF_ERR_FORBIDDEN, PF_ERR_POD_NOT_FOUND, PF_ERR_UPGRADE_FAILED):
 * then it closes with that reason so the gateway can report it and redial/re-resolve.
 * Network failures and error-channel text stay per connection. `close()` destroys open
 * connections with PF_ERR_TUNNEL_CLOSED.
 */

import type { Duplex } from "node:stream";
import type { ByteTransport } from "./byte-transport.ts";
import type { Clock } from "./clock.ts";
import { LegacyV4Connection } from "./legacy-v4-connection.ts";
import { V4_CHANNEL_PROTOCOL } from "./legacy-v4-demuxer.ts";
import { closeReasonFor, type Tunnel, type TunnelCloseReason, type TunnelCounters, type TunnelState } from "./tunnel.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

export interface LegacyTunnelOptions {
  /** Dials one v4 WebSocket for `port` and wraps it as a transport. */
  readonly openTransport: (port: number) => Promise<ByteTransport>;
  readonly clock: Clock;
  readonly halfCloseGraceMs?: number;
}

const TUNNEL_FATAL: ReadonlySet<string> = new Set([TunnelErrorCode.Forbidden, TunnelErrorCode.PodNotFound, TunnelErrorCode.UpgradeFailed]);

export class LegacyTunnel implements Tunnel {
  readonly protocol = V4_CHANNEL_PROTOCOL;
  readonly closed: Promise<TunnelCloseReason>;
  readonly #options: LegacyTunnelOptions;
  readonly #connections = new Set<LegacyV4Connection>();
  #state: TunnelState = { kind: "open" };
  #resolveClosed: (reason: TunnelCloseReason) => void = () => {};
  #total = 0;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(options: LegacyTunnelOptions) {
    this.#options = options;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get state(): TunnelState {
    return this.#state;
  }

  get counters(): TunnelCounters {
    return {
      activeConnections: this.#connections.size,
      totalConnections: this.#total,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
  }

  connect(port: number): Duplex {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TunnelError(TunnelErrorCode.PortForward, `port ${port} is not in 1-65535`);
    }
    const state = this.#state;
    const connection = new LegacyV4Connection({
      port,
      clock: this.#options.clock,
      open: async () => {
        if (state.kind === "closed") throw new TunnelError(TunnelErrorCode.TunnelClosed, "the tunnel is closed");
        try {
          return await this.#options.openTransport(port);
        } catch (error) {
          if (error instanceof TunnelError && TUNNEL_FATAL.has(error.code)) {
            // This connection fails with the dial error itself; the others get TunnelClosed.
            this.#connections.delete(connection);
            this.#finish(error);
          }
          throw error;
        }
      },
      onBytesIn: (count) => {
        this.#bytesIn += count;
      },
      onBytesOut: (count) => {
        this.#bytesOut += count;
      },
      ...(this.#options.halfCloseGraceMs === undefined ? {} : { halfCloseGraceMs: this.#options.halfCloseGraceMs }),
    });
    this.#total++;
    this.#connections.add(connection);
    connection.once("close", () => this.#connections.delete(connection));
    return connection;
  }

  close(): void {
    this.#finish(null);
  }

  #finish(error: TunnelError | null): void {
    if (this.#state.kind === "closed") return;
    const reason = closeReasonFor(error);
    this.#state = { kind: "closed", reason };
    const closing = new TunnelError(TunnelErrorCode.TunnelClosed, `the tunnel closed: ${reason.message}`, {
      cause: error ?? undefined,
    });
    for (const connection of this.#connections) connection.destroy(closing);
    this.#resolveClosed(reason);
  }
}
