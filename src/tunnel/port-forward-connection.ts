/**
 * One forwarded TCP connection over a SPDY session, exposed as a Node Duplex.
 *
 * Wire contract (kubelet/cri-streaming `httpstream.go`, client-go `portforward.go`):
 *  - Two streams per connection, headers exactly `streamtype: error|data`, `port: <n>`,
 *    `requestid: <id>`; the error stream's SYN_STREAM is written first, then the data stream's.
 *  - Unlike kubectl we do not wait for the error stream's SYN_REPLY before opening the data
 *    stream (the server pairs by requestid in either order; saves one round trip). Like kubectl,
 *    the error stream is half-closed with an empty DATA+FIN (after its SYN_REPLY, since
 *    spdystream drops DATA on streams it has not replied to) and the client never writes on it.
 *  - Runtime failure: UTF-8 text on the error stream, then (k8s ≥ 1.32 streaming code) RST on
 *    both streams, or FIN on older code. Either way the Duplex is destroyed with
 *    PF_ERR_PORT_FORWARD carrying the text. An empty error stream means success.
 *  - Normal end: the runtime FINs both streams; our `end()` sends DATA+FIN on the data stream.
 *  - End of the readable side waits for the error stream: some runtimes (KWOK; and any forwarder
 *    that closes its data stream itself) FIN the data stream *before* writing the error text, so
 *    a refused connection would otherwise look like a clean, empty EOF. The data FIN is held
 *    until the error stream has ended (an error then destroys the Duplex instead), for at most
 *    ERROR_STREAM_WAIT_MS, so a runtime that never ends its error stream cannot hold EOF back.
 *
 * Duplex contract: writes go out as DATA frames (backpressure through the session writer);
 * `end()` half-closes; readable data is pushed once per batch of transport input (the pieces of
 * DATA that one read of the WebSocket yields are joined in a microtask, so the consumer — a
 * client socket — gets one write instead of one per piece; joining the reads of a whole
 * event-loop turn instead was measured in issue #15: half the writes, but the larger joins
 * allocated more external memory and the extra full GCs cost more CPU than the writes saved)
 * and a full readable buffer pauses
 * the tunnel transport until `_read`; `destroy()` resets whatever stream is still open with
 * RST_STREAM CANCEL. Errors are per connection and coded; the session is never affected.
 */

import { channel } from "node:diagnostics_channel";
import { Duplex } from "node:stream";
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import type { SpdySession } from "./spdy-session.ts";
import type { SpdyStream } from "./spdy-stream.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

/** Upper bound on error-stream text we keep (the runtime writes one short line). */
const MAX_ERROR_TEXT_BYTES = 64 * 1024;
/** How long a data-stream FIN waits for the error stream's verdict (see the header). */
export const ERROR_STREAM_WAIT_MS = 1_000;

/**
 * `node:diagnostics_channel` name: once per connection, when it closes, a
 * `ConnectionTimings` message (only while someone subscribes; benchmarks and debugging use it
 * to tell the server's share of a new connection's latency from ours).
 */
export const CONNECTION_TIMINGS_CHANNEL = "tunnelkeeper:tunnel:connection";
const timingsChannel = channel(CONNECTION_TIMINGS_CHANNEL);

/** Milliseconds after `openedAt` (performance.now() when the connection was opened); -1 = never. */
export interface ConnectionTimings {
  readonly port: number;
  readonly requestId: string;
  readonly openedAt: number;
  /** SYN_REPLY of the error stream / the data stream arrived. */
  readonly errorReplyMs: number;
  readonly dataReplyMs: number;
  /** The first byte to send reached us (`_write`). */
  readonly firstWriteMs: number;
  /** The first DATA from the pod arrived / was pushed to the consumer. */
  readonly firstDataMs: number;
  readonly firstPushMs: number;
}

type MutableTimings = { -readonly [K in keyof ConnectionTimings]: ConnectionTimings[K] };

export interface PortForwardConnectionOptions {
  readonly session: SpdySession;
  readonly port: number;
  readonly requestId: string;
  readonly highWaterMark?: number;
  readonly clock?: Clock;
}

export class PortForwardConnection extends Duplex {
  readonly port: number;
  readonly requestId: string;
  readonly #session: SpdySession;
  #errorStream: SpdyStream | null = null;
  #dataStream: SpdyStream | null = null;
  #errorText: Buffer[] = [];
  #errorTextBytes = 0;
  readonly #clock: Clock;
  #errorStreamEnded = false;
  #dataFinPending: TimerHandle | null = null;
  #inbound: Buffer[] = [];
  #inboundBytes = 0;
  readonly #timings: MutableTimings | null;

  constructor(options: PortForwardConnectionOptions) {
    super({ allowHalfOpen: true, highWaterMark: options.highWaterMark ?? 1024 * 1024 });
    this.port = options.port;
    this.requestId = options.requestId;
    this.#session = options.session;
    this.#clock = options.clock ?? systemClock;
    this.#timings = timingsChannel.hasSubscribers
      ? {
          port: this.port,
          requestId: this.requestId,
          openedAt: performance.now(),
          errorReplyMs: -1,
          dataReplyMs: -1,
          firstWriteMs: -1,
          firstDataMs: -1,
          firstPushMs: -1,
        }
      : null;
  }

  #mark(key: "errorReplyMs" | "dataReplyMs" | "firstWriteMs" | "firstDataMs" | "firstPushMs"): void {
    const timings = this.#timings;
    if (timings !== null && timings[key] < 0) timings[key] = performance.now() - timings.openedAt;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const common = { port: String(this.port), requestid: this.requestId };
    try {
      this.#errorStream = this.#session.openStream(new Map([["streamtype", "error"], ...Object.entries(common)]), {
        onReply: () => {
          this.#mark("errorReplyMs");
          this.#errorStream?.end();
        },
        onData: (data) => this.#collectErrorText(data),
        onRemoteFin: () => this.#onErrorStreamEnd(),
        onReset: () => this.#onErrorStreamEnd(),
        onSessionClose: (error) => this.destroy(error),
      });
      this.#dataStream = this.#session.openStream(new Map([["streamtype", "data"], ...Object.entries(common)]), {
        onReply: () => this.#mark("dataReplyMs"),
        onData: (data) => this.#queueInbound(data),
        onRemoteFin: () => this.#onDataStreamFin(),
        onReset: (status) => this.#onDataStreamReset(status),
        onSessionClose: (error) => this.destroy(error),
      });
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#timings !== null) this.#mark("firstWriteMs");
    this.#dataStream!.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#dataStream!.end(callback);
  }

  override _read(): void {
    this.#dataStream?.resumeReading();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#dataFinPending !== null) this.#clock.clearTimeout(this.#dataFinPending);
    this.#dataFinPending = null;
    for (const stream of [this.#dataStream, this.#errorStream]) {
      if (stream !== null && stream.state.kind !== "closed") stream.reset();
    }
    if (this.#timings !== null) timingsChannel.publish(this.#timings);
    callback(error);
  }

  #collectErrorText(data: Buffer): boolean {
    if (this.#errorTextBytes < MAX_ERROR_TEXT_BYTES) {
      const kept = data.subarray(0, MAX_ERROR_TEXT_BYTES - this.#errorTextBytes);
      this.#errorText.push(kept);
      this.#errorTextBytes += kept.length;
    }
    return true;
  }

  #remoteError(): TunnelError | null {
    if (this.#errorTextBytes === 0) return null;
    const text = Buffer.concat(this.#errorText).toString("utf8");
    return new TunnelError(TunnelErrorCode.PortForward, `port-forward to port ${this.port} failed: ${text}`);
  }

  #onErrorStreamEnd(): void {
    this.#errorStreamEnded = true;
    const error = this.#remoteError();
    if (error !== null) {
      this.destroy(error);
      return;
    }
    if (this.#dataFinPending !== null) {
      this.#clock.clearTimeout(this.#dataFinPending);
      this.#dataFinPending = null;
      this.#flushInbound();
      this.push(null);
    }
  }

  /** Collects a piece of inbound data; returns whether the consumer may take more. */
  #queueInbound(data: Buffer): boolean {
    if (this.#timings !== null) this.#mark("firstDataMs");
    if (this.#inbound.length === 0) queueMicrotask(() => this.#flushInbound());
    this.#inbound.push(data);
    this.#inboundBytes += data.length;
    return this.readableLength + this.#inboundBytes < this.readableHighWaterMark;
  }

  #flushInbound(): void {
    if (this.#inbound.length === 0) return;
    const chunk = this.#inbound.length === 1 ? this.#inbound[0]! : Buffer.concat(this.#inbound, this.#inboundBytes);
    this.#inbound = [];
    this.#inboundBytes = 0;
    if (this.#timings !== null) this.#mark("firstPushMs");
    if (!this.destroyed) this.push(chunk);
  }

  #onDataStreamFin(): void {
    this.#flushInbound();
    if (this.#errorStreamEnded) {
      this.push(null);
      return;
    }
    this.#dataFinPending = this.#clock.setTimeout(() => {
      this.#dataFinPending = null;
      if (!this.destroyed) this.push(null);
    }, ERROR_STREAM_WAIT_MS);
  }

  #onDataStreamReset(status: number): void {
    this.destroy(
      this.#remoteError() ??
        new TunnelError(TunnelErrorCode.StreamReset, `the data stream for port ${this.port} was reset (status ${status})`),
    );
  }
}
