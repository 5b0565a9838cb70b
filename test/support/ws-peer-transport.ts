/**
 * Test peers only: a ByteTransport over a `ws` WebSocket, for the servers unit tests stand up
 * in place of the API server (a SPDY server over ws's server side). The product's client
 * transport is src/tunnel/websocket-transport.ts, with framing of its own; serving it from an
 * independent WebSocket implementation is the point of using ws here.
 *
 * Contract:
 *  - Each `write` is one binary message; the return value is `bufferedAmount < highWaterBytes`
 *    and `onDrain` follows once a send completes below the mark (ws has no 'drain' event; its
 *    send callback fires when the socket accepted the bytes). The send callback is also when
 *    `release` runs: ws keeps no reference to a sent payload once the socket wrote it (with
 *    the all-zero mask it never modifies the payload; with a random mask it masks a copy).
 *  - Each inbound binary message is one `onData` call. A text message is fatal
 *    (PF_ERR_WS_PROTOCOL): the peer's TunnelingConnection reader treats it the same way.
 *  - `pause`/`resume` pause the underlying socket (ws.pause()), closing the TCP window.
 *  - Keepalive: a WebSocket ping every `pingIntervalMs` keeps proxies and load balancers from
 *    idling the connection; a missing pong for `pingTimeoutMs` destroys the transport with
 *    PF_ERR_KEEPALIVE_TIMEOUT. (API servers answer pings themselves; they never reach the runtime.)
 *  - Close: `close()` sends close code 1000; the peer's 1000/1005 close is clean (`null`),
 *    anything else is PF_ERR_NETWORK.
 */

import type WebSocket from "ws";
import type { ByteTransport, TransportSink } from "../../src/tunnel/byte-transport.ts";
import type { Clock } from "../../src/tunnel/clock.ts";
import { Keepalive } from "../../src/tunnel/keepalive.ts";
import { TunnelError, TunnelErrorCode } from "../../src/tunnel/tunnel-error.ts";

export interface WsPeerTransportOptions {
  readonly clock: Clock;
  readonly highWaterBytes?: number;
  /** 0 disables WebSocket pings. */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

type TransportState = { readonly kind: "detached" } | { readonly kind: "open"; readonly sink: TransportSink } | { readonly kind: "closed" };

export class WsPeerTransport implements ByteTransport {
  readonly #socket: WebSocket;
  readonly #highWaterBytes: number;
  readonly #keepalive: Keepalive | null;
  #state: TransportState = { kind: "detached" };
  #needDrain = false;
  #paused = false;
  #progress = 0;

  constructor(socket: WebSocket, options: WsPeerTransportOptions) {
    this.#socket = socket;
    this.#highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    const interval = options.pingIntervalMs ?? 0;
    this.#keepalive =
      interval > 0
        ? new Keepalive({
            clock: options.clock,
            intervalMs: interval,
            timeoutMs: options.pingTimeoutMs ?? interval * 2,
            sendPing: () => this.#socket.ping(),
            onTimeout: () =>
              this.destroy(new TunnelError(TunnelErrorCode.KeepaliveTimeout, "no WebSocket pong within the keepalive timeout")),
            isInboundPaused: () => this.#paused,
            progress: () => this.#progress,
          })
        : null;
  }

  attach(sink: TransportSink): void {
    if (this.#state.kind !== "detached") return;
    this.#state = { kind: "open", sink };
    this.#socket.on("message", (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    this.#socket.on("pong", () => this.#keepalive?.notePong());
    this.#socket.on("close", (code, reason) => this.#onClose(code, reason));
    this.#socket.on("error", (error) =>
      this.#fail(new TunnelError(TunnelErrorCode.Network, `WebSocket error: ${error.message}`, { cause: error })),
    );
    this.#keepalive?.start();
    if (!this.#paused) this.#socket.resume();
  }

  write(bytes: Buffer, release?: () => void): boolean {
    if (this.#state.kind !== "open") return false;
    const length = bytes.length;
    this.#socket.send(bytes, { binary: true }, (error) => {
      this.#onSent(error, length);
      if (!error) release?.();
    });
    if (this.#socket.bufferedAmount < this.#highWaterBytes) return true;
    this.#needDrain = true;
    return false;
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#socket.resume();
  }

  close(): void {
    if (this.#state.kind !== "open") return;
    const { sink } = this.#state;
    this.#state = { kind: "closed" };
    this.#keepalive?.stop();
    this.#socket.close(1000);
    sink.onClose(null);
  }

  destroy(error: TunnelError): void {
    if (this.#state.kind === "closed") return;
    this.#fail(error);
    this.#socket.terminate();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state.kind !== "open") return;
    if (!isBinary) {
      this.destroy(new TunnelError(TunnelErrorCode.WebSocketProtocol, "received a text WebSocket message; only binary is allowed"));
      return;
    }
    this.#progress += data.length;
    this.#state.sink.onData(data);
  }

  /** Bytes received plus bytes handed to the kernel; only grows (keepalive's proof of life). */
  get progressBytes(): number {
    return this.#progress;
  }

  #onSent(error: Error | undefined | null, length: number): void {
    if (error) return; // the 'error'/'close' events carry the failure
    this.#progress += length;
    if (this.#state.kind !== "open" || !this.#needDrain) return;
    if (this.#socket.bufferedAmount >= this.#highWaterBytes) return;
    this.#needDrain = false;
    this.#state.sink.onDrain();
  }

  #onClose(code: number, reason: Buffer): void {
    if (code === 1000 || code === 1005) {
      if (this.#state.kind !== "open") return;
      const { sink } = this.#state;
      this.#state = { kind: "closed" };
      this.#keepalive?.stop();
      sink.onClose(null);
      return;
    }
    this.#fail(new TunnelError(TunnelErrorCode.Network, `WebSocket closed with code ${code} ${reason.toString("utf8")}`.trim()));
  }

  #fail(error: TunnelError): void {
    this.#keepalive?.stop();
    if (this.#state.kind !== "open") {
      this.#state = { kind: "closed" };
      return;
    }
    const { sink } = this.#state;
    this.#state = { kind: "closed" };
    sink.onClose(error);
  }
}
