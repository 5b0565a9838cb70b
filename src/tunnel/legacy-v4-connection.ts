/**
 * One forwarded TCP connection over its own legacy `v4.channel.k8s.io` WebSocket, as a Duplex.
 *
 * Contract:
 *  - The transport is opened lazily in `_construct` by the injected `open()` (one API-server
 *    request and one pod dial per connection: v4 cannot open more connections on one socket).
 *    Writes made before it is open are held by the Writable machinery.
 *  - Inbound data is pushed after the port prefix is stripped; a full readable buffer pauses the
 *    WebSocket until `_read`. Outbound writes complete when the transport is below its mark.
 *  - Error-channel text destroys the Duplex with PF_ERR_PORT_FORWARD when the socket closes (the
 *    runtime closes the WebSocket once the port is done); a clean close without text ends it.
 *  - v4 has no half-close. After our `end()` we keep reading until the server closes, or until
 *    `halfCloseGraceMs` passes, then close the WebSocket with 1000 (containerd itself waits
 *    about 1 s after one direction ends), so late replies are not cut off at once.
 */

import { Duplex } from "node:stream";
import type { ByteTransport, TransportSink } from "./byte-transport.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { encodeV4Data, V4ChannelDemuxer } from "./legacy-v4-demuxer.ts";
import { TunnelError, TunnelErrorCode, toTunnelError } from "./tunnel-error.ts";

export interface LegacyV4ConnectionOptions {
  readonly port: number;
  readonly open: () => Promise<ByteTransport>;
  readonly clock: Clock;
  readonly halfCloseGraceMs?: number;
  readonly highWaterMark?: number;
  readonly onBytesIn?: (count: number) => void;
  readonly onBytesOut?: (count: number) => void;
}

type ConnectionState =
  | { readonly kind: "opening" }
  | { readonly kind: "open"; readonly transport: ByteTransport }
  | { readonly kind: "closed" };

export class LegacyV4Connection extends Duplex implements TransportSink {
  readonly port: number;
  readonly #options: LegacyV4ConnectionOptions;
  readonly #demuxer: V4ChannelDemuxer;
  #state: ConnectionState = { kind: "opening" };
  #errorText = "";
  #pendingWrite: (() => void) | null = null;
  #graceTimer: TimerHandle | null = null;

  constructor(options: LegacyV4ConnectionOptions) {
    super({ allowHalfOpen: true, highWaterMark: options.highWaterMark ?? 64 * 1024 });
    this.port = options.port;
    this.#options = options;
    this.#demuxer = new V4ChannelDemuxer([options.port]);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#options.open().then(
      (transport) => {
        if (this.destroyed) {
          transport.close();
          callback();
          return;
        }
        this.#state = { kind: "open", transport };
        transport.attach(this);
        callback();
      },
      (error: unknown) => callback(toTunnelError(error, TunnelErrorCode.Network, "legacy port-forward dial failed")),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#state.kind !== "open") {
      callback(new TunnelError(TunnelErrorCode.TunnelClosed, "the legacy port-forward WebSocket is closed"));
      return;
    }
    this.#options.onBytesOut?.(chunk.length);
    if (this.#state.transport.write(encodeV4Data(0, chunk))) callback();
    else this.#pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#graceTimer = this.#options.clock.setTimeout(() => this.#closeTransport(), this.#options.halfCloseGraceMs ?? 1000);
    callback();
  }

  override _read(): void {
    if (this.#state.kind === "open") this.#state.transport.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#closeTransport();
    callback(error);
  }

  onData(bytes: Buffer): void {
    let events: ReturnType<V4ChannelDemuxer["handleMessage"]>;
    try {
      events = this.#demuxer.handleMessage(bytes);
    } catch (error) {
      this.destroy(error as TunnelError);
      return;
    }
    for (const event of events) {
      if (event.kind === "error") {
        if (this.#errorText.length < 64 * 1024) this.#errorText += event.text;
        continue;
      }
      this.#options.onBytesIn?.(event.data.length);
      if (!this.push(event.data) && this.#state.kind === "open") {
        this.#state.transport.pause();
      }
    }
  }

  onDrain(): void {
    const pending = this.#pendingWrite;
    this.#pendingWrite = null;
    pending?.();
  }

  onClose(error: TunnelError | null): void {
    this.#state = { kind: "closed" };
    this.#clearGrace();
    if (this.#errorText !== "") {
      this.destroy(new TunnelError(TunnelErrorCode.PortForward, `port-forward to port ${this.port} failed: ${this.#errorText}`));
    } else if (error !== null) {
      this.destroy(error);
    } else {
      this.push(null);
    }
  }

  #closeTransport(): void {
    this.#clearGrace();
    if (this.#state.kind === "open") this.#state.transport.close();
  }

  #clearGrace(): void {
    if (this.#graceTimer !== null) this.#options.clock.clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
  }
}
