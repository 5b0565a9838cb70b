/**
 * Streaming decoder of the frames a WebSocket server sends its client (RFC 6455 §5), pure: no
 * sockets, no timers. The shape of spdy-decoder.ts, one layer down.
 *
 * Contract:
 *  - `write(chunk)` accepts arbitrary chunks (frames split across chunks, several frames per
 *    chunk) and returns the events this chunk completes, in wire order.
 *  - Binary payloads are streamed: the payload bytes of a data frame present in a chunk come out
 *    at once as a `data` event holding a view of that chunk (no copy); `final` is set on the
 *    piece that ends the message (the last byte of a FIN frame). A message's pieces, joined,
 *    are its payload; an empty message is one empty piece with `final`. Whoever keeps a piece
 *    keeps the chunk it is a view of. (ws's receiver copies every message that straddles two
 *    reads into a new buffer; with the API server's 16 KiB messages over 16 KiB TLS records that
 *    is nearly every byte of a download, and each copy is external memory V8 must collect.)
 *  - Control frames (ping, pong, close) come out whole, also between the fragments of a message.
 *    A close frame's code is `null` when it has none (what §7.1.5 calls 1005).
 *  - Violations throw a `TunnelError` PF_ERR_WS_PROTOCOL, and the decoder stays failed: a masked
 *    frame (§5.1: a server must not mask), RSV bits (no extension was negotiated), an unknown
 *    opcode, a text message (the port-forward protocols are binary only; the API server's reader
 *    treats text the same way), a continuation with no message open or a new message inside
 *    one, a fragmented or oversized control frame, a close frame with a 1-byte payload, an
 *    invalid close code or a reason that is not UTF-8, a length above `maxFrameLength`.
 */

import { ByteQueue } from "./byte-queue.ts";
import { TunnelError, TunnelErrorCode, toTunnelError } from "./tunnel-error.ts";
import { isValidCloseCode, MAX_CONTROL_PAYLOAD, Opcode } from "./websocket-frame.ts";

export type WebSocketEvent =
  | { readonly kind: "data"; readonly data: Buffer; readonly final: boolean }
  | { readonly kind: "ping"; readonly payload: Buffer }
  | { readonly kind: "pong"; readonly payload: Buffer }
  | { readonly kind: "close"; readonly code: number | null; readonly reason: string };

type DecoderState =
  | { readonly kind: "header" }
  | { readonly kind: "control"; readonly opcode: number; readonly length: number }
  | { readonly kind: "data"; readonly fin: boolean; remaining: number }
  | { readonly kind: "failed"; readonly error: TunnelError };

export interface WebSocketDecoderOptions {
  /** Largest frame payload accepted; default 2^53 − 1 (no practical limit: data is streamed). */
  readonly maxFrameLength?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function protocolError(message: string): TunnelError {
  return new TunnelError(TunnelErrorCode.WebSocketProtocol, `WebSocket frame: ${message}`);
}

export class WebSocketDecoder {
  readonly #maxFrameLength: number;
  readonly #queue = new ByteQueue();
  #state: DecoderState = { kind: "header" };
  /** A binary message is open (its last frame had FIN=0); continuations may follow. */
  #inMessage = false;

  constructor(options: WebSocketDecoderOptions = {}) {
    this.#maxFrameLength = options.maxFrameLength ?? Number.MAX_SAFE_INTEGER;
  }

  /** Bytes received but not yet decoded. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  write(chunk: Buffer): WebSocketEvent[] {
    if (this.#state.kind === "failed") throw this.#state.error;
    this.#queue.push(chunk);
    const events: WebSocketEvent[] = [];
    try {
      for (;;) {
        const state = this.#state;
        if (state.kind === "header") {
          if (!this.#readHeader()) break;
        } else if (state.kind === "data") {
          if (!this.#streamData(state, events)) break;
        } else if (state.kind === "control") {
          if (this.#queue.length < state.length) break;
          events.push(this.#controlEvent(state.opcode, this.#queue.consume(state.length)));
          this.#state = { kind: "header" };
        } else {
          break;
        }
      }
    } catch (error) {
      const coded = toTunnelError(error, TunnelErrorCode.WebSocketProtocol, "WebSocket frame: decoding failed");
      this.#state = { kind: "failed", error: coded };
      this.#queue.clear();
      throw coded;
    }
    return events;
  }

  /** Parses one frame header if all its bytes are here; returns whether it did. */
  #readHeader(): boolean {
    if (this.#queue.length < 2) return false;
    const first = this.#queue.peekByte(0);
    const second = this.#queue.peekByte(1);
    const lengthCode = second & 0x7f;
    const lengthBytes = lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0;
    if ((second & 0x80) !== 0) throw protocolError("the server masked a frame (RFC 6455 §5.1 forbids it)");
    if (this.#queue.length < 2 + lengthBytes) return false;
    const header = this.#queue.consume(2 + lengthBytes);
    if ((first & 0x70) !== 0) throw protocolError("reserved bits set, but no extension was negotiated");
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    let length = lengthCode;
    if (lengthBytes === 2) length = header.readUInt16BE(2);
    if (lengthBytes === 8) {
      const high = header.readUInt32BE(2);
      if (high > 0x1f_ffff) throw protocolError("payload length above 2^53");
      length = high * 0x1_0000_0000 + header.readUInt32BE(6);
    }
    if (opcode >= Opcode.Close) {
      if (opcode > Opcode.Pong) throw protocolError(`unknown opcode 0x${opcode.toString(16)}`);
      if (!fin) throw protocolError("fragmented control frame");
      if (length > MAX_CONTROL_PAYLOAD) throw protocolError(`control frame of ${length} bytes (at most ${MAX_CONTROL_PAYLOAD})`);
      this.#state = { kind: "control", opcode, length };
      return true;
    }
    if (opcode === Opcode.Text) throw protocolError("a text message; only binary is allowed");
    if (opcode === Opcode.Continuation) {
      if (!this.#inMessage) throw protocolError("a continuation frame with no message open");
    } else if (opcode === Opcode.Binary) {
      if (this.#inMessage) throw protocolError("a new message before the last one ended");
    } else {
      throw protocolError(`unknown opcode 0x${opcode.toString(16)}`);
    }
    if (length > this.#maxFrameLength) throw protocolError(`frame of ${length} bytes (at most ${this.#maxFrameLength})`);
    this.#inMessage = !fin;
    this.#state = { kind: "data", fin, remaining: length };
    return true;
  }

  /** Emits the payload bytes at hand; returns true when the frame is complete. */
  #streamData(state: { readonly fin: boolean; remaining: number }, events: WebSocketEvent[]): boolean {
    if (state.remaining === 0) {
      if (state.fin) events.push({ kind: "data", data: Buffer.alloc(0), final: true });
      this.#state = { kind: "header" };
      return true;
    }
    while (state.remaining > 0 && this.#queue.length > 0) {
      const take = Math.min(this.#queue.nextChunkLength, state.remaining);
      const piece = this.#queue.consume(take);
      state.remaining -= take;
      events.push({ kind: "data", data: piece, final: state.fin && state.remaining === 0 });
    }
    if (state.remaining > 0) return false;
    this.#state = { kind: "header" };
    return true;
  }

  #controlEvent(opcode: number, payload: Buffer): WebSocketEvent {
    // Control payloads are at most 125 bytes: a copy frees the chunk they may be a view of.
    const owned = Buffer.from(payload);
    if (opcode === Opcode.Ping) return { kind: "ping", payload: owned };
    if (opcode === Opcode.Pong) return { kind: "pong", payload: owned };
    if (owned.length === 0) return { kind: "close", code: null, reason: "" };
    if (owned.length === 1) throw protocolError("a close frame with a 1-byte payload");
    const code = owned.readUInt16BE(0);
    if (!isValidCloseCode(code)) throw protocolError(`invalid close code ${code}`);
    let reason: string;
    try {
      reason = utf8.decode(owned.subarray(2));
    } catch {
      throw protocolError("a close reason that is not UTF-8");
    }
    return { kind: "close", code, reason };
  }
}
