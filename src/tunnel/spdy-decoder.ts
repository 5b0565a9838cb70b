/**
 * Streaming SPDY/3.1 frame decoder (ws Receiver style, but pure: no sockets, no timers).
 *
 * Contract:
 *  - `write(chunk)` accepts arbitrary chunks (frames split across chunks and several frames per
 *    chunk) and returns the frames completed by this chunk, in wire order — except DATA, which
 *    is streamed: the payload bytes present in a chunk come out at once as a DATA frame of their
 *    own (zero-copy views of the chunk), and only the piece that completes the frame carries its
 *    FIN flag. One DATA frame on the wire may thus decode to several; their payloads concatenate
 *    to the original. (This spares a copy of every payload that straddles chunks, which with
 *    the API server's unaligned relaying is most of them.)
 *  - Malformed input throws a `TunnelError` (PF_ERR_SPDY_PROTOCOL or PF_ERR_SPDY_COMPRESSION);
 *    nothing uncoded escapes. After an error the decoder stays failed and rethrows it, because
 *    the byte stream and the shared inflate context can no longer be trusted.
 *  - Header blocks are inflated in frame order through one HeaderInflater (one zlib stream per
 *    direction per connection), including empty SYN_REPLY blocks.
 * Validation follows moby/spdystream's reader: version 3 only, the eight known control types,
 * exact lengths for RST_STREAM/PING/GOAWAY/WINDOW_UPDATE, no stream id 0, RST status ≠ 0,
 * PING flags 0, lowercase unique header names, header block consumed exactly.
 */

import { ByteQueue } from "./byte-queue.ts";
import { decodeHeaderBlock } from "./header-block.ts";
import { HeaderInflater } from "./header-compression.ts";
import { ControlType, FLAG_FIN, FRAME_HEADER_BYTES, type SettingsEntry, SPDY_VERSION, type SpdyFrame } from "./spdy-frame.ts";
import { TunnelError, TunnelErrorCode, toTunnelError } from "./tunnel-error.ts";

interface PendingHeader {
  readonly control: boolean;
  /** Control: version; data: unused. */
  readonly version: number;
  /** Control: type; data: stream id. */
  readonly typeOrStreamId: number;
  readonly flags: number;
  readonly length: number;
}

type DecoderState =
  | { readonly kind: "header" }
  | { readonly kind: "payload"; readonly header: PendingHeader }
  | { readonly kind: "data"; readonly streamId: number; readonly flags: number; remaining: number }
  | { readonly kind: "failed"; readonly error: TunnelError };

export interface SpdyDecoderOptions {
  /** Largest frame payload accepted; defaults to the 24-bit maximum. */
  readonly maxFramePayload?: number;
}

function protocolError(message: string): TunnelError {
  return new TunnelError(TunnelErrorCode.SpdyProtocol, `SPDY frame: ${message}`);
}

export class SpdyDecoder {
  readonly #inflater: HeaderInflater;
  readonly #maxFramePayload: number;
  readonly #queue = new ByteQueue();
  #state: DecoderState = { kind: "header" };

  constructor(inflater: HeaderInflater = new HeaderInflater(), options: SpdyDecoderOptions = {}) {
    this.#inflater = inflater;
    this.#maxFramePayload = options.maxFramePayload ?? 0xffffff;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  write(chunk: Buffer): SpdyFrame[] {
    if (this.#state.kind === "failed") throw this.#state.error;
    this.#queue.push(chunk);
    const frames: SpdyFrame[] = [];
    try {
      for (;;) {
        if (this.#state.kind === "header") {
          if (this.#queue.length < FRAME_HEADER_BYTES) break;
          const header = this.#parseHeader(this.#queue.consume(FRAME_HEADER_BYTES));
          if (!header.control) {
            if (header.typeOrStreamId === 0) throw protocolError("DATA on stream 0");
            this.#state = { kind: "data", streamId: header.typeOrStreamId, flags: header.flags, remaining: header.length };
          } else {
            this.#state = { kind: "payload", header };
          }
        }
        if (this.#state.kind === "data") {
          if (!this.#streamData(this.#state, frames)) break;
          continue;
        }
        if (this.#state.kind !== "payload") break;
        const { header } = this.#state;
        if (this.#queue.length < header.length) break;
        const payload = this.#queue.consume(header.length);
        this.#state = { kind: "header" };
        frames.push(this.#parseFrame(header, payload));
      }
    } catch (error) {
      const coded = toTunnelError(error, TunnelErrorCode.SpdyProtocol, "SPDY frame: decoding failed");
      this.#state = { kind: "failed", error: coded };
      this.#queue.clear();
      throw coded;
    }
    return frames;
  }

  /** Emits the DATA bytes at hand; returns true when the frame is complete (state back to header). */
  #streamData(state: { streamId: number; flags: number; remaining: number }, frames: SpdyFrame[]): boolean {
    if (state.remaining === 0) {
      frames.push({ kind: "data", streamId: state.streamId, flags: state.flags, data: Buffer.alloc(0) });
      this.#state = { kind: "header" };
      return true;
    }
    while (state.remaining > 0 && this.#queue.length > 0) {
      const take = Math.min(this.#queue.nextChunkLength, state.remaining);
      const piece = this.#queue.consume(take);
      state.remaining -= take;
      const flags = state.remaining === 0 ? state.flags : state.flags & ~FLAG_FIN;
      frames.push({ kind: "data", streamId: state.streamId, flags, data: piece });
    }
    if (state.remaining > 0) return false;
    this.#state = { kind: "header" };
    return true;
  }

  #parseHeader(bytes: Buffer): PendingHeader {
    const word = bytes.readUInt32BE(0);
    const flagsAndLength = bytes.readUInt32BE(4);
    const length = flagsAndLength & 0xffffff;
    const flags = flagsAndLength >>> 24;
    const control = (word & 0x80000000) !== 0;
    if (length > this.#maxFramePayload) {
      throw protocolError(`payload of ${length} bytes exceeds the limit of ${this.#maxFramePayload}`);
    }
    if (!control) return { control, version: 0, typeOrStreamId: word & 0x7fffffff, flags, length };
    const version = (word >>> 16) & 0x7fff;
    if (version !== SPDY_VERSION) throw protocolError(`unsupported version ${version}`);
    return { control, version, typeOrStreamId: word & 0xffff, flags, length };
  }

  #parseFrame(header: PendingHeader, payload: Buffer): SpdyFrame {
    const { flags, length } = header;
    if (!header.control) {
      const streamId = header.typeOrStreamId;
      if (streamId === 0) throw protocolError("DATA on stream 0");
      return { kind: "data", streamId, flags, data: payload };
    }
    const type = header.typeOrStreamId;
    const streamIdAt = (offset: number): number => {
      const id = payload.readUInt32BE(offset) & 0x7fffffff;
      if (id === 0) throw protocolError(`control type ${type} names stream 0`);
      return id;
    };
    const requireLength = (exact: number): void => {
      if (length !== exact) throw protocolError(`control type ${type} must be ${exact} bytes, got ${length}`);
    };
    const requireMinimum = (minimum: number): void => {
      if (length < minimum) throw protocolError(`control type ${type} needs at least ${minimum} bytes, got ${length}`);
    };
    switch (type) {
      case ControlType.SynStream: {
        requireMinimum(10);
        const streamId = streamIdAt(0);
        const associatedStreamId = payload.readUInt32BE(4) & 0x7fffffff;
        const priority = payload[8]! >>> 5;
        const slot = payload[9]!;
        const headers = this.#headers(payload.subarray(10));
        return { kind: "synStream", streamId, associatedStreamId, priority, slot, flags, headers };
      }
      case ControlType.SynReply: {
        requireMinimum(4);
        const streamId = streamIdAt(0);
        return { kind: "synReply", streamId, flags, headers: this.#headers(payload.subarray(4)) };
      }
      case ControlType.Headers: {
        requireMinimum(4);
        const streamId = streamIdAt(0);
        return { kind: "headers", streamId, flags, headers: this.#headers(payload.subarray(4)) };
      }
      case ControlType.RstStream: {
        requireLength(8);
        const streamId = streamIdAt(0);
        const status = payload.readUInt32BE(4);
        if (status === 0) throw protocolError("RST_STREAM with status 0");
        return { kind: "rstStream", streamId, status };
      }
      case ControlType.Settings: {
        requireMinimum(4);
        const count = payload.readUInt32BE(0);
        if (length !== 4 + count * 8) throw protocolError(`SETTINGS with ${count} entries cannot be ${length} bytes`);
        const entries: SettingsEntry[] = [];
        for (let offset = 4; offset < length; offset += 8) {
          const word = payload.readUInt32BE(offset);
          entries.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(offset + 4) });
        }
        return { kind: "settings", flags, entries };
      }
      case ControlType.Ping: {
        requireLength(4);
        if (flags !== 0) throw protocolError("PING with flags");
        const id = payload.readUInt32BE(0);
        if (id === 0) throw protocolError("PING with id 0");
        return { kind: "ping", id };
      }
      case ControlType.GoAway: {
        requireLength(8);
        return {
          kind: "goAway",
          lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff,
          status: payload.readUInt32BE(4),
        };
      }
      case ControlType.WindowUpdate: {
        requireLength(8);
        const streamId = payload.readUInt32BE(0) & 0x7fffffff;
        return { kind: "windowUpdate", streamId, delta: payload.readUInt32BE(4) & 0x7fffffff };
      }
      default:
        throw protocolError(`unknown control frame type ${type}`);
    }
  }

  #headers(compressed: Buffer): ReadonlyMap<string, string> {
    return decodeHeaderBlock(this.#inflater.decompress(compressed));
  }
}
