/**
 * An in-memory `Tunnel` (src/tunnel/tunnel.ts) and a scripted `OpenTunnelFn`, for unit tests of
 * the gateway's data path without an API server, a WebSocket or SPDY.
 *
 * `MemoryTunnel.connect(port)` returns one end of an in-memory duplex pair (`node:stream`
 * `duplexPair`, with real backpressure) and hands the other end to the pod side (`PodServer`,
 * default: an echo server). The contract the gateway relies on is kept: `closed` resolves once
 * with the reason; `close()` or `drop()` fails every open connection with PF_ERR_TUNNEL_CLOSED;
 * a connection opened afterwards fails at once; `refuse(port)` makes connections to a port
 * fail the way a pod that does not listen on it does (PF_ERR_PORT_FORWARD on that connection
 * only, the tunnel stays open).
 *
 * `TunnelDialer.open` records every dial as a `DialAttempt` that the test settles: `succeed()`
 * (a new MemoryTunnel), `fail(error)`, or nothing (the dial hangs until aborted, like a slow
 * API server). With `autoOpen` every dial succeeds at once.
 */
import { type Duplex, duplexPair } from "node:stream";
import type { OpenTunnelFn } from "../../src/gateway/pod-tunnel.ts";
import {
  closeReasonFor,
  TUNNEL_SUBPROTOCOL,
  type Tunnel,
  type TunnelCloseReason,
  type TunnelCounters,
  type TunnelState,
} from "../../src/tunnel/tunnel.ts";
import { TunnelError, TunnelErrorCode } from "../../src/tunnel/tunnel-error.ts";

/** The pod side of one forwarded connection. */
export type PodServer = (connection: Duplex, port: number) => void;

/** Echoes every byte back and ends when the gateway side ends. */
export const echoServer: PodServer = (connection) => {
  connection.on("error", () => undefined);
  connection.pipe(connection);
};

export class MemoryTunnel implements Tunnel {
  readonly protocol = TUNNEL_SUBPROTOCOL;
  readonly pod: string;
  readonly closed: Promise<TunnelCloseReason>;
  /** Ports connected to, in order. */
  readonly connectedPorts: number[] = [];
  readonly #serve: PodServer;
  readonly #refused = new Set<number>();
  readonly #open = new Set<Duplex>();
  #state: TunnelState = { kind: "open" };
  #total = 0;
  #resolveClosed!: (reason: TunnelCloseReason) => void;

  constructor(pod: string, serve: PodServer = echoServer) {
    this.pod = pod;
    this.#serve = serve;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get state(): TunnelState {
    return this.#state;
  }

  get counters(): TunnelCounters {
    return { activeConnections: this.#open.size, totalConnections: this.#total, bytesIn: 0, bytesOut: 0 };
  }

  /** Connections to `port` fail from now on, as when nothing listens on it in the pod. */
  refuse(port: number): void {
    this.#refused.add(port);
  }

  connect(port: number): Duplex {
    const [gatewaySide, podSide] = duplexPair();
    this.connectedPorts.push(port);
    if (this.#state.kind !== "open") {
      process.nextTick(() => gatewaySide.destroy(new TunnelError(TunnelErrorCode.TunnelClosed, `tunnel to ${this.pod} is closed`)));
      return gatewaySide;
    }
    if (this.#refused.has(port)) {
      process.nextTick(() =>
        gatewaySide.destroy(
          new TunnelError(TunnelErrorCode.PortForward, `error forwarding port ${port} to pod ${this.pod}: connection refused`),
        ),
      );
      return gatewaySide;
    }
    this.#total += 1;
    this.#open.add(gatewaySide);
    gatewaySide.once("close", () => this.#open.delete(gatewaySide));
    this.#serve(podSide, port);
    return gatewaySide;
  }

  close(): void {
    this.#end(closeReasonFor(null));
  }

  /** The tunnel fails (e.g. the pod's node went away): `closed` resolves with `Network`. */
  drop(message = "the connection to the API server was lost"): void {
    this.#end(closeReasonFor(new TunnelError(TunnelErrorCode.Network, message)));
  }

  #end(reason: TunnelCloseReason): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "closed", reason };
    for (const connection of this.#open) {
      connection.destroy(new TunnelError(TunnelErrorCode.TunnelClosed, `tunnel to ${this.pod} closed: ${reason.message}`));
    }
    this.#resolveClosed(reason);
  }
}

export interface DialAttempt {
  readonly pod: string;
  readonly signal: AbortSignal;
  /** Settles the dial with a new open MemoryTunnel and returns it. */
  succeed(serve?: PodServer): MemoryTunnel;
  fail(error: Error): void;
  readonly settled: boolean;
}

export interface TunnelDialerOptions {
  /** Every dial succeeds at once with an echo MemoryTunnel (or `serve`'s). */
  readonly autoOpen?: boolean;
  readonly serve?: PodServer;
}

export class TunnelDialer {
  readonly attempts: DialAttempt[] = [];
  /** Every tunnel a dial produced, in order. */
  readonly tunnels: MemoryTunnel[] = [];
  autoOpen: boolean;
  readonly #serve: PodServer | undefined;

  constructor(options: TunnelDialerOptions = {}) {
    this.autoOpen = options.autoOpen ?? false;
    this.#serve = options.serve;
  }

  /** The OpenTunnelFn to inject. An aborted dial rejects with PF_ERR_ABORTED, as openTunnel does. */
  readonly open: OpenTunnelFn = (pod, signal) =>
    new Promise<Tunnel>((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        signal.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (settled) return;
        settle();
        reject(new TunnelError(TunnelErrorCode.Aborted, `dial to ${pod} aborted`));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const attempt: DialAttempt = {
        pod,
        signal,
        succeed: (serve) => {
          const tunnel = new MemoryTunnel(pod, serve ?? this.#serve);
          this.tunnels.push(tunnel);
          if (!settled) {
            settle();
            resolve(tunnel);
          }
          return tunnel;
        },
        fail: (error) => {
          if (settled) return;
          settle();
          reject(error);
        },
        get settled() {
          return settled;
        },
      };
      this.attempts.push(attempt);
      if (this.autoOpen) attempt.succeed();
    });

  /** Dials to `pod` so far. */
  dialsTo(pod: string): DialAttempt[] {
    return this.attempts.filter((a) => a.pod === pod);
  }

  /** The latest dial to `pod`; throws when there is none (the test expected one). */
  latest(pod: string): DialAttempt {
    const attempt = this.dialsTo(pod).at(-1);
    if (attempt === undefined) throw new Error(`no dial to ${pod} yet`);
    return attempt;
  }

  /** The latest tunnel to `pod`; throws when none was opened. */
  tunnelTo(pod: string): MemoryTunnel {
    const tunnel = this.tunnels.filter((t) => t.pod === pod).at(-1);
    if (tunnel === undefined) throw new Error(`no tunnel to ${pod} yet`);
    return tunnel;
  }
}
