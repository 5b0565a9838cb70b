/**
 * Client side of a SPDY/3.1 session over a ByteTransport, shaped for moby/spdystream peers.
 *
 * Lifecycle (discriminated union, never booleans):
 *
 *   open ──GOAWAY received──▶ goingAway ──transport closed──▶ closed
 *     └──── close() / destroy(error) / transport closed / protocol error ───▶ closed
 *
 * Contract:
 *  - Stream ids are odd, start at 1, and are assigned AND encoded in increasing order in the
 *    same synchronous call (`openStream`), so they reach the wire in order.
 *  - No flow control: spdystream never sends WINDOW_UPDATE, so send windows are not enforced;
 *    WINDOW_UPDATE and SETTINGS are read and ignored, never sent.
 *  - Backpressure: transport → streams through FrameWriter.whenWritable (stream write callbacks);
 *    streams → transport by pausing the transport while any stream's consumer is full
 *    (head-of-line, like spdystream's unbuffered per-stream channels). Bounded overshoot: the
 *    frames already decoded from the current chunk are still delivered.
 *  - PINGs: ours are odd (1, 3, 5, … wrapping below 2^31) and reported through `onPong`; the
 *    peer's (even) are echoed unchanged.
 *  - Frames for unknown streams are ignored (spdystream drops them silently); a server-initiated
 *    SYN_STREAM is refused with RST_STREAM REFUSED_STREAM.
 *  - A decode error or unexpected frame closes the whole session with a coded error; every open
 *    stream then gets `onSessionClose`. Stream-level trouble never closes the session.
 */

import type { ByteTransport, TransportSink } from "./byte-transport.ts";
import { FrameWriter } from "./frame-writer.ts";
import { HeaderDeflater, HeaderInflater } from "./header-compression.ts";
import { SpdyDecoder } from "./spdy-decoder.ts";
import { encodeFrame } from "./spdy-encoder.ts";
import { GoAwayStatus, type HeaderBlock, MAX_STREAM_ID, RstStatus, type SpdyFrame } from "./spdy-frame.ts";
import { SpdyStream, type SpdyStreamEvents, type StreamHost } from "./spdy-stream.ts";
import { TunnelError, TunnelErrorCode, toTunnelError } from "./tunnel-error.ts";

export type SpdySessionState =
  | { readonly kind: "open" }
  | { readonly kind: "goingAway"; readonly lastGoodStreamId: number }
  | { readonly kind: "closed"; readonly error: TunnelError | null };

export interface SpdySessionOptions {
  readonly defer: (callback: () => void) => void;
  /** Largest DATA payload we send per frame (kubectl: 32 KiB). */
  readonly maxDataFramePayload?: number;
  readonly maxBatchBytes?: number;
  readonly highWaterBytes?: number;
  readonly onPong?: (id: number) => void;
  readonly onGoAway?: (lastGoodStreamId: number, status: number) => void;
  /** Fires once; `null` for a clean close. */
  readonly onClose?: (error: TunnelError | null) => void;
}

const FIRST_PING_ID = 1;

export class SpdySession implements StreamHost, TransportSink {
  readonly maxDataFramePayload: number;
  readonly #transport: ByteTransport;
  readonly #writer: FrameWriter;
  readonly #deflater = new HeaderDeflater();
  readonly #decoder = new SpdyDecoder(new HeaderInflater());
  readonly #options: SpdySessionOptions;
  readonly #streams = new Map<number, SpdyStream>();
  readonly #blockedStreams = new Set<number>();
  #state: SpdySessionState = { kind: "open" };
  #nextStreamId = 1;
  #nextPingId = FIRST_PING_ID;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(transport: ByteTransport, options: SpdySessionOptions) {
    this.#transport = transport;
    this.#options = options;
    this.maxDataFramePayload = options.maxDataFramePayload ?? 32 * 1024;
    this.#writer = new FrameWriter(transport, {
      defer: options.defer,
      ...(options.maxBatchBytes === undefined ? {} : { maxBatchBytes: options.maxBatchBytes }),
      ...(options.highWaterBytes === undefined ? {} : { highWaterBytes: options.highWaterBytes }),
    });
  }

  /** Attaches to the transport; call once before anything else. */
  start(): void {
    this.#transport.attach(this);
  }

  get state(): SpdySessionState {
    return this.#state;
  }

  get activeStreams(): number {
    return this.#streams.size;
  }

  /** DATA payload bytes received / sent. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  get bytesOut(): number {
    return this.#bytesOut;
  }

  get transportWrites(): number {
    return this.#writer.writes;
  }

  get readingPaused(): boolean {
    return this.#blockedStreams.size > 0;
  }

  /** Opens a stream: SYN_STREAM is encoded now, so ids hit the wire in increasing order. */
  openStream(headers: HeaderBlock, events: SpdyStreamEvents): SpdyStream {
    if (this.#state.kind !== "open") {
      throw new TunnelError(TunnelErrorCode.TunnelClosed, `SPDY session is ${this.#state.kind}; no new streams`);
    }
    const id = this.#nextStreamId;
    if (id > MAX_STREAM_ID) {
      throw new TunnelError(TunnelErrorCode.StreamIdsExhausted, "SPDY stream ids exhausted; open a new tunnel");
    }
    const stream = new SpdyStream(id, this, events);
    this.sendFrame({ kind: "synStream", streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers });
    this.#nextStreamId += 2;
    this.#streams.set(id, stream);
    return stream;
  }

  /** Sends a PING and returns its id; the echo arrives through `onPong`. */
  ping(): number {
    const id = this.#nextPingId;
    this.#nextPingId = id + 2 > MAX_STREAM_ID ? FIRST_PING_ID : id + 2;
    this.sendFrame({ kind: "ping", id });
    return id;
  }

  /** Graceful close: GOAWAY, flush, close the transport. Open streams end with TunnelClosed. */
  close(): void {
    if (this.#state.kind === "closed") return;
    this.sendFrame({ kind: "goAway", lastGoodStreamId: 0, status: GoAwayStatus.Ok });
    this.#finish(null);
    this.#transport.close();
  }

  destroy(error: TunnelError): void {
    if (this.#state.kind === "closed") return;
    this.#finish(error);
    this.#transport.destroy(error);
  }

  // StreamHost

  sendFrame(frame: SpdyFrame): void {
    if (this.#state.kind === "closed") return;
    if (frame.kind === "data") this.#bytesOut += frame.data.length;
    this.#writer.enqueue(encodeFrame(frame, this.#deflater));
  }

  whenWritable(callback: () => void): void {
    this.#writer.whenWritable(callback);
  }

  setConsumerBlocked(streamId: number, blocked: boolean): void {
    const wasPaused = this.readingPaused;
    if (blocked) this.#blockedStreams.add(streamId);
    else this.#blockedStreams.delete(streamId);
    if (this.#state.kind === "closed") return;
    if (!wasPaused && this.readingPaused) this.#transport.pause();
    else if (wasPaused && !this.readingPaused) this.#transport.resume();
  }

  streamClosed(streamId: number): void {
    this.#streams.delete(streamId);
  }

  // TransportSink

  onData(bytes: Buffer): void {
    if (this.#state.kind === "closed") return;
    let frames: SpdyFrame[];
    try {
      frames = this.#decoder.write(bytes);
    } catch (error) {
      this.destroy(toTunnelError(error, TunnelErrorCode.SpdyProtocol, "SPDY decoding failed"));
      return;
    }
    for (const frame of frames) {
      if (this.#isClosed()) return;
      this.#handleFrame(frame);
    }
  }

  onDrain(): void {
    this.#writer.onDrain();
  }

  onClose(error: TunnelError | null): void {
    if (this.#state.kind === "closed") return;
    const unexpected = error ?? new TunnelError(TunnelErrorCode.Network, "the transport closed before the SPDY session ended");
    this.#finish(this.#state.kind === "goingAway" && error === null ? null : unexpected);
  }

  #handleFrame(frame: SpdyFrame): void {
    switch (frame.kind) {
      case "synReply":
        this.#streams.get(frame.streamId)?.handleReply(frame);
        return;
      case "data":
        this.#bytesIn += frame.data.length;
        this.#streams.get(frame.streamId)?.handleData(frame.data, frame.flags);
        return;
      case "rstStream":
        this.#streams.get(frame.streamId)?.handleReset(frame.status);
        return;
      case "headers":
        if ((frame.flags & 1) !== 0) this.#streams.get(frame.streamId)?.handleRemoteFin();
        return;
      case "ping":
        if (frame.id % 2 === 1) this.#options.onPong?.(frame.id);
        else this.sendFrame(frame);
        return;
      case "goAway":
        this.#handleGoAway(frame.lastGoodStreamId, frame.status);
        return;
      case "synStream":
        this.sendFrame({ kind: "rstStream", streamId: frame.streamId, status: RstStatus.RefusedStream });
        return;
      case "settings":
      case "windowUpdate":
        return;
    }
  }

  /**
   * GOAWAY: no new streams. Existing streams are left to finish: spdystream waits for its open
   * streams before closing the connection, and its last-good id is not reliable enough
   * (receivedStreamId − 2) to fail streams on.
   */
  #handleGoAway(lastGoodStreamId: number, status: number): void {
    if (this.#state.kind !== "open") return;
    this.#state = { kind: "goingAway", lastGoodStreamId };
    this.#options.onGoAway?.(lastGoodStreamId, status);
  }

  #isClosed(): boolean {
    return this.#state.kind === "closed";
  }

  #finish(error: TunnelError | null): void {
    this.#writer.close();
    this.#state = { kind: "closed", error };
    const streamError = new TunnelError(
      TunnelErrorCode.TunnelClosed,
      error === null ? "the tunnel closed" : `the tunnel failed: ${error.message}`,
      { cause: error ?? undefined },
    );
    for (const stream of [...this.#streams.values()]) stream.handleSessionClose(streamError);
    this.#streams.clear();
    this.#blockedStreams.clear();
    this.#options.onClose?.(error);
  }
}
