/**
 * ByteTransport over the socket of an upgraded WebSocket client connection (the KEP-4006
 * tunnel and legacy v4 alike): our own framing (websocket-frame.ts, websocket-decoder.ts) on
 * the TLS or TCP socket the dialer hands over, so inbound payloads reach the sink as views of
 * the socket's reads and outbound ones go out without a copy.
 *
 * Contract:
 *  - Each `write` is one binary frame (FIN, masked with the connection's key: zero over TLS,
 *    see websocket-dialer.ts). It returns `writableLength < highWaterBytes`; `onDrain` follows
 *    once a write completes below the mark. `release` runs when the socket has handed the
 *    payload to the kernel (its write callback); with a random key the payload is masked into
 *    a copy, so the caller's buffer is never changed.
 *  - Inbound: `delivery: "stream"` hands every payload piece to `onData` as it arrives (the
 *    SPDY session parses a byte stream and does not care where messages end);
 *    `delivery: "message"` joins each message and delivers it whole (legacy v4 reads a channel
 *    byte at the start of every message). A text message or any framing violation is fatal
 *    (PF_ERR_WS_PROTOCOL).
 *  - Pings from the server are answered with a pong carrying the same payload (§5.5.2).
 *  - `pause`/`resume` pause the socket, closing the TCP window.
 *  - Keepalive: a WebSocket ping every `pingIntervalMs` keeps proxies and load balancers from
 *    idling the connection; no pong (and no progress) for `pingTimeoutMs` destroys the transport
 *    with PF_ERR_KEEPALIVE_TIMEOUT. (API servers answer pings themselves.)
 *  - Close: `close()` sends close 1000 and half-closes the socket; the peer answers and closes
 *    TCP, or the socket is destroyed after `closeTimeoutMs`. A peer's close frame with 1000 or
 *    no code is a clean close (`null`), after which we echo it and end the socket; any other
 *    code, a socket error or a socket that ends without a close frame is PF_ERR_NETWORK.
 *  - `headBytes` (what the upgrade response's read carried past the headers) is decoded first.
 */

import type { Duplex } from "node:stream";
import type { ByteTransport, TransportSink } from "./byte-transport.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { Keepalive } from "./keepalive.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";
import { WebSocketDecoder, type WebSocketEvent } from "./websocket-decoder.ts";
import {
  CloseCode,
  clientFrameHeader,
  closePayload,
  isZeroKey,
  MAX_CLIENT_HEADER_BYTES,
  maskedCopy,
  Opcode,
  type OpcodeValue,
} from "./websocket-frame.ts";

export type WebSocketDelivery = "stream" | "message";

export interface WebSocketTransportOptions {
  readonly clock: Clock;
  /** Yields the masking key of each frame (4 bytes; all zero over TLS). */
  readonly nextMaskKey: () => Buffer;
  readonly delivery?: WebSocketDelivery;
  /** Bytes read with the upgrade response after its headers: the first frames. */
  readonly headBytes?: Buffer;
  readonly highWaterBytes?: number;
  /** 0 disables WebSocket pings. */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** After our close frame, how long the peer has to close the connection. Default 10 s. */
  readonly closeTimeoutMs?: number;
}

type TransportState = { readonly kind: "detached" } | { readonly kind: "open"; readonly sink: TransportSink } | { readonly kind: "closed" };

export class WebSocketTransport implements ByteTransport {
  readonly #socket: Duplex;
  readonly #options: WebSocketTransportOptions;
  readonly #decoder = new WebSocketDecoder();
  readonly #highWaterBytes: number;
  readonly #keepalive: Keepalive | null;
  #state: TransportState = { kind: "detached" };
  #needDrain = false;
  #paused = false;
  #progress = 0;
  #closeSent = false;
  #lingerTimer: TimerHandle | null = null;
  /** "message" delivery: the pieces of the message in progress. */
  #message: Buffer[] = [];

  constructor(socket: Duplex, options: WebSocketTransportOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    const interval = options.pingIntervalMs ?? 0;
    this.#keepalive =
      interval > 0
        ? new Keepalive({
            clock: options.clock,
            intervalMs: interval,
            timeoutMs: options.pingTimeoutMs ?? interval * 2,
            sendPing: () => this.#sendControl(Opcode.Ping, Buffer.alloc(0)),
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
    const socket = this.#socket;
    socket.on("data", (chunk: Buffer) => this.#onBytes(chunk));
    socket.on("error", (error) =>
      this.#fail(new TunnelError(TunnelErrorCode.Network, `WebSocket connection error: ${error.message}`, { cause: error })),
    );
    socket.on("close", () => this.#onSocketClose());
    this.#keepalive?.start();
    const head = this.#options.headBytes;
    if (head !== undefined && head.length > 0) this.#onBytes(head);
    if (!this.#paused && this.#state.kind === "open") socket.resume();
  }

  /** A binary frame's header fits in front of a payload (ByteTransport `headroom`). */
  readonly headroom = MAX_CLIENT_HEADER_BYTES;

  write(bytes: Buffer, release?: () => void, spareBefore = 0): boolean {
    if (this.#state.kind !== "open" || this.#closeSent) return false;
    const length = bytes.length;
    this.#writeFrame(
      Opcode.Binary,
      bytes,
      (error) => {
        if (error) return; // 'error'/'close' carry the failure
        this.#onSent(length);
        release?.();
      },
      spareBefore,
    );
    if (this.#socket.writableLength < this.#highWaterBytes) return true;
    this.#needDrain = true;
    return false;
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#state.kind === "open") this.#socket.resume();
  }

  close(): void {
    if (this.#state.kind !== "open") return;
    const { sink } = this.#state;
    this.#state = { kind: "closed" };
    this.#keepalive?.stop();
    this.#sendClose(CloseCode.Normal);
    sink.onClose(null);
  }

  destroy(error: TunnelError): void {
    if (this.#state.kind === "closed" && this.#socket.destroyed) return;
    this.#fail(error);
    this.#socket.destroy();
  }

  /**
   * Payload bytes received plus payload bytes handed to the kernel; only grows (keepalive's
   * proof of life). Pings and pongs do not count: a peer that answers WebSocket pings while its
   * side of the tunnel is stuck must not keep the SPDY keepalive from firing.
   */
  get progressBytes(): number {
    return this.#progress;
  }

  #onBytes(chunk: Buffer): void {
    if (this.#state.kind !== "open") return;
    let events: WebSocketEvent[];
    try {
      events = this.#decoder.write(chunk);
    } catch (error) {
      this.destroy(error as TunnelError);
      return;
    }
    for (const event of events) {
      if (this.#state.kind !== "open") return;
      this.#onEvent(event, this.#state.sink);
    }
  }

  #onEvent(event: WebSocketEvent, sink: TransportSink): void {
    switch (event.kind) {
      case "data":
        this.#progress += event.data.length;
        if (this.#options.delivery !== "message") {
          if (event.data.length > 0) sink.onData(event.data);
          return;
        }
        this.#message.push(event.data);
        if (!event.final) return;
        sink.onData(this.#message.length === 1 ? this.#message[0]! : Buffer.concat(this.#message));
        this.#message = [];
        return;
      case "ping":
        this.#sendControl(Opcode.Pong, event.payload);
        return;
      case "pong":
        this.#keepalive?.notePong();
        return;
      case "close":
        this.#onPeerClose(event.code, event.reason, sink);
        return;
    }
  }

  #onPeerClose(code: number | null, reason: string, sink: TransportSink): void {
    this.#state = { kind: "closed" };
    this.#keepalive?.stop();
    this.#sendClose(code ?? CloseCode.Normal);
    if (code === null || code === CloseCode.Normal) {
      sink.onClose(null);
      return;
    }
    sink.onClose(new TunnelError(TunnelErrorCode.Network, `WebSocket closed with code ${code} ${reason}`.trim()));
  }

  #onSocketClose(): void {
    if (this.#lingerTimer !== null) this.#options.clock.clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    this.#fail(new TunnelError(TunnelErrorCode.Network, `WebSocket connection closed without a close frame (code ${CloseCode.Abnormal})`));
  }

  #onSent(length: number): void {
    this.#progress += length;
    if (this.#state.kind !== "open" || !this.#needDrain) return;
    if (this.#socket.writableLength >= this.#highWaterBytes) return;
    this.#needDrain = false;
    this.#state.sink.onDrain();
  }

  /** Sends our close frame once, half-closes, and gives the peer `closeTimeoutMs` to finish. */
  #sendClose(code: number): void {
    if (this.#closeSent || this.#socket.destroyed) return;
    this.#closeSent = true;
    this.#writeFrame(Opcode.Close, closePayload(code));
    this.#socket.end();
    this.#lingerTimer = this.#options.clock.setTimeout(() => {
      this.#lingerTimer = null;
      this.#socket.destroy();
    }, this.#options.closeTimeoutMs ?? 10_000);
  }

  #sendControl(opcode: OpcodeValue, payload: Buffer): void {
    if (this.#closeSent || this.#socket.destroyed) return;
    this.#writeFrame(opcode, payload);
  }

  /**
   * Header and payload in one buffer when the header fits in the payload's spare bytes and the
   * payload needs no masking (the header is written in front of it); otherwise in one writev
   * (the socket is corked around them).
   */
  #writeFrame(opcode: OpcodeValue, payload: Buffer, callback?: (error?: Error | null) => void, spareBefore = 0): void {
    const key = this.#options.nextMaskKey();
    const socket = this.#socket;
    if (isZeroKey(key) && spareBefore > 0) {
      const header = clientFrameHeader(opcode, payload.length, key);
      if (header.length <= spareBefore) {
        const frame = Buffer.from(payload.buffer, payload.byteOffset - header.length, header.length + payload.length);
        header.copy(frame, 0);
        socket.write(frame, callback);
        return;
      }
    }
    const body = isZeroKey(key) ? payload : maskedCopy(payload, key);
    socket.cork();
    socket.write(clientFrameHeader(opcode, payload.length, key));
    socket.write(body, callback);
    socket.uncork();
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
