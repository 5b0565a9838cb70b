/**
 * One client-initiated SPDY stream inside a SpdySession.
 *
 * State machine (SPDY/3 §2.3 plus the wait for SYN_REPLY that spdystream's writers do):
 *
 *   awaitingReply ──SYN_REPLY──▶ open ──local FIN──▶ halfClosedLocal ──remote FIN──▶ closed
 *        │  (SYN_REPLY+FIN) ──────▶ halfClosedRemote ──local FIN──────────────────▶ closed
 *        └──────── any state ── RST received / reset() / session end ─────────────▶ closed
 *
 * Contract:
 *  - DATA (and our FIN) are never sent before the peer's SYN_REPLY: spdystream drops DATA for a
 *    stream it has not replied to. Writes made earlier are held with their callbacks, so a
 *    producer is paused until the reply (bounded buffering).
 *  - A write callback runs once the session's writer accepts more bytes (transport backpressure).
 *  - `events.onData` returning false marks the consumer full; the session then pauses the whole
 *    transport until `resumeReading()` (head-of-line, as in spdystream itself: SPDY here has no
 *    flow control, so the transport window is the only brake).
 *  - Exactly one terminal event reaches the owner: onRemoteFin may precede it; onReset or
 *    onSessionClose end it abruptly; a normal close is visible as state `closed`/`finished`.
 */

import { FLAG_FIN, type HeaderBlock, RstStatus, type SpdyFrame } from "./spdy-frame.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

export interface SpdyStreamEvents {
  onReply(headers: HeaderBlock): void;
  /** Returns false when the consumer cannot take more data for now. */
  onData(data: Buffer): boolean;
  onRemoteFin(): void;
  onReset(status: number): void;
  onSessionClose(error: TunnelError): void;
}

/** What a stream needs from its session. */
export interface StreamHost {
  readonly maxDataFramePayload: number;
  sendFrame(frame: SpdyFrame): void;
  whenWritable(callback: () => void): void;
  setConsumerBlocked(streamId: number, blocked: boolean): void;
  streamClosed(streamId: number): void;
}

export type SpdyStreamState =
  | { readonly kind: "awaitingReply" }
  | { readonly kind: "open" }
  | { readonly kind: "halfClosedLocal" }
  | { readonly kind: "halfClosedRemote" }
  | { readonly kind: "closed"; readonly cause: "finished" | "resetByPeer" | "resetLocally" | "sessionClosed" };

type WriteCallback = (error?: Error | null) => void;
type HeldWrite = { readonly data: Buffer; readonly callback: WriteCallback } | { readonly fin: true; readonly callback: WriteCallback };

export class SpdyStream {
  readonly id: number;
  readonly #host: StreamHost;
  readonly #events: SpdyStreamEvents;
  #state: SpdyStreamState = { kind: "awaitingReply" };
  #held: HeldWrite[] = [];
  #consumerBlocked = false;

  constructor(id: number, host: StreamHost, events: SpdyStreamEvents) {
    this.id = id;
    this.#host = host;
    this.#events = events;
  }

  get state(): SpdyStreamState {
    return this.#state;
  }

  write(data: Buffer, callback: WriteCallback): void {
    switch (this.#state.kind) {
      case "awaitingReply":
        this.#held.push({ data, callback });
        return;
      case "open":
      case "halfClosedRemote":
        this.#sendData(data, 0);
        this.#host.whenWritable(() => callback());
        return;
      default:
        callback(this.#closedError());
    }
  }

  /** Half-closes our side: an empty DATA frame with FIN. */
  end(callback: WriteCallback = () => {}): void {
    switch (this.#state.kind) {
      case "awaitingReply":
        this.#held.push({ fin: true, callback });
        return;
      case "open":
        this.#sendData(Buffer.alloc(0), FLAG_FIN);
        this.#state = { kind: "halfClosedLocal" };
        this.#host.whenWritable(() => callback());
        return;
      case "halfClosedRemote":
        this.#sendData(Buffer.alloc(0), FLAG_FIN);
        this.#close("finished");
        callback();
        return;
      default:
        callback(this.#state.kind === "halfClosedLocal" ? null : this.#closedError());
    }
  }

  /** Aborts the stream with RST_STREAM (CANCEL by default, as spdystream's Reset). */
  reset(status: number = RstStatus.Cancel): void {
    if (this.#state.kind === "closed") return;
    this.#host.sendFrame({ kind: "rstStream", streamId: this.id, status });
    this.#failHeld();
    this.#close("resetLocally");
  }

  /** The consumer can take data again. */
  resumeReading(): void {
    if (!this.#consumerBlocked) return;
    this.#consumerBlocked = false;
    this.#host.setConsumerBlocked(this.id, false);
  }

  handleReply(frame: { readonly flags: number; readonly headers: HeaderBlock }): void {
    if (this.#state.kind !== "awaitingReply") return;
    this.#state = { kind: "open" };
    this.#events.onReply(frame.headers);
    if ((frame.flags & FLAG_FIN) !== 0) this.handleRemoteFin();
    const held = this.#held;
    this.#held = [];
    for (const write of held) {
      if ("fin" in write) this.end(write.callback);
      else this.write(write.data, write.callback);
    }
  }

  handleData(data: Buffer, flags: number): void {
    const kind = this.#state.kind;
    if (kind === "closed" || kind === "halfClosedRemote") return;
    if (data.length > 0 && !this.#events.onData(data) && !this.#consumerBlocked) {
      this.#consumerBlocked = true;
      this.#host.setConsumerBlocked(this.id, true);
    }
    if ((flags & FLAG_FIN) !== 0) this.handleRemoteFin();
  }

  handleRemoteFin(): void {
    switch (this.#state.kind) {
      case "awaitingReply":
      case "open":
        this.#state = { kind: "halfClosedRemote" };
        this.#events.onRemoteFin();
        return;
      case "halfClosedLocal":
        this.#close("finished");
        this.#events.onRemoteFin();
        return;
      default:
    }
  }

  handleReset(status: number): void {
    if (this.#state.kind === "closed") return;
    this.#failHeld();
    this.#close("resetByPeer");
    this.#events.onReset(status);
  }

  handleSessionClose(error: TunnelError): void {
    if (this.#state.kind === "closed") return;
    this.#held = [];
    this.#close("sessionClosed");
    this.#events.onSessionClose(error);
  }

  #sendData(data: Buffer, finFlag: number): void {
    const max = this.#host.maxDataFramePayload;
    for (let offset = 0; offset < data.length; offset += max) {
      const end = Math.min(offset + max, data.length);
      const flags = end === data.length ? finFlag : 0;
      this.#host.sendFrame({ kind: "data", streamId: this.id, flags, data: data.subarray(offset, end) });
    }
    if (data.length === 0) this.#host.sendFrame({ kind: "data", streamId: this.id, flags: finFlag, data });
  }

  #close(cause: "finished" | "resetByPeer" | "resetLocally" | "sessionClosed"): void {
    this.#state = { kind: "closed", cause };
    if (this.#consumerBlocked) {
      this.#consumerBlocked = false;
      this.#host.setConsumerBlocked(this.id, false);
    }
    this.#host.streamClosed(this.id);
  }

  #failHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const write of held) write.callback(this.#closedError());
  }

  #closedError(): TunnelError {
    return new TunnelError(TunnelErrorCode.StreamReset, `SPDY stream ${this.id} is closed`);
  }
}
