/**
 * SPDY/3.1 frame encoder (ws Sender.frame style): frame → Buffer[] with no I/O.
 *
 * Contract: output is exactly the wire layout in spdy-frame.ts with version 3. Header blocks
 * go through the connection's single HeaderDeflater, so frames carrying headers MUST be written
 * to the wire in the order they were encoded (the session encodes at enqueue time for this).
 * DATA returns [header, payload] so the payload is never copied here. Invalid input (ids out of
 * range, oversize payload, bad header names) throws PF_ERR_SPDY_PROTOCOL before any state changes
 * — except for header-name errors, which are caught before compression too.
 */

import { encodeHeaderBlock } from "./header-block.ts";
import type { HeaderDeflater } from "./header-compression.ts";
import { ControlType, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, MAX_STREAM_ID, SPDY_VERSION, type SpdyFrame } from "./spdy-frame.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

function invalid(message: string): TunnelError {
  return new TunnelError(TunnelErrorCode.SpdyProtocol, `SPDY encode: ${message}`);
}

function checkId(id: number, what: string, allowZero = false): void {
  if (!Number.isInteger(id) || id < (allowZero ? 0 : 1) || id > MAX_STREAM_ID) {
    throw invalid(`${what} ${id} is out of range`);
  }
}

function checkUint(value: number, bits: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) throw invalid(`${what} ${value} is out of range`);
}

function controlFrame(type: number, flags: number, payloadLength: number): Buffer {
  if (payloadLength > MAX_FRAME_PAYLOAD) throw invalid(`control payload of ${payloadLength} bytes`);
  checkUint(flags, 8, "flags");
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLength);
  frame.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  frame.writeUInt16BE(type, 2);
  frame.writeUInt32BE(((flags << 24) | payloadLength) >>> 0, 4);
  return frame;
}

/** The 8-byte header of a DATA frame. */
export function encodeDataHeader(streamId: number, flags: number, length: number): Buffer {
  checkId(streamId, "stream id");
  checkUint(flags, 8, "flags");
  if (length > MAX_FRAME_PAYLOAD) throw invalid(`DATA payload of ${length} bytes`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(streamId, 0);
  header.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return header;
}

export function encodeFrame(frame: SpdyFrame, deflater: HeaderDeflater): Buffer[] {
  switch (frame.kind) {
    case "data":
      return [encodeDataHeader(frame.streamId, frame.flags, frame.data.length), frame.data];
    case "synStream": {
      checkId(frame.streamId, "stream id");
      checkId(frame.associatedStreamId, "associated stream id", true);
      checkUint(frame.priority, 3, "priority");
      checkUint(frame.slot, 8, "slot");
      const block = deflater.compress(encodeHeaderBlock(frame.headers));
      const out = controlFrame(ControlType.SynStream, frame.flags, 10 + block.length);
      out.writeUInt32BE(frame.streamId, 8);
      out.writeUInt32BE(frame.associatedStreamId, 12);
      out[16] = frame.priority << 5;
      out[17] = frame.slot;
      block.copy(out, 18);
      return [out];
    }
    case "synReply":
    case "headers": {
      checkId(frame.streamId, "stream id");
      const block = deflater.compress(encodeHeaderBlock(frame.headers));
      const type = frame.kind === "synReply" ? ControlType.SynReply : ControlType.Headers;
      const out = controlFrame(type, frame.flags, 4 + block.length);
      out.writeUInt32BE(frame.streamId, 8);
      block.copy(out, 12);
      return [out];
    }
    case "rstStream": {
      checkId(frame.streamId, "stream id");
      checkUint(frame.status, 32, "status");
      if (frame.status === 0) throw invalid("RST_STREAM status 0");
      const out = controlFrame(ControlType.RstStream, 0, 8);
      out.writeUInt32BE(frame.streamId, 8);
      out.writeUInt32BE(frame.status, 12);
      return [out];
    }
    case "settings": {
      const out = controlFrame(ControlType.Settings, frame.flags, 4 + frame.entries.length * 8);
      out.writeUInt32BE(frame.entries.length, 8);
      let offset = 12;
      for (const entry of frame.entries) {
        checkUint(entry.flags, 8, "settings flags");
        checkUint(entry.id, 24, "settings id");
        checkUint(entry.value, 32, "settings value");
        out.writeUInt32BE(((entry.flags << 24) | entry.id) >>> 0, offset);
        out.writeUInt32BE(entry.value, offset + 4);
        offset += 8;
      }
      return [out];
    }
    case "ping": {
      checkUint(frame.id, 32, "ping id");
      if (frame.id === 0) throw invalid("PING id 0");
      const out = controlFrame(ControlType.Ping, 0, 4);
      out.writeUInt32BE(frame.id, 8);
      return [out];
    }
    case "goAway": {
      checkId(frame.lastGoodStreamId, "last good stream id", true);
      checkUint(frame.status, 32, "status");
      const out = controlFrame(ControlType.GoAway, 0, 8);
      out.writeUInt32BE(frame.lastGoodStreamId, 8);
      out.writeUInt32BE(frame.status, 12);
      return [out];
    }
    case "windowUpdate": {
      checkId(frame.streamId, "stream id");
      checkUint(frame.delta, 31, "delta");
      const out = controlFrame(ControlType.WindowUpdate, 0, 8);
      out.writeUInt32BE(frame.streamId, 8);
      out.writeUInt32BE(frame.delta, 12);
      return [out];
    }
  }
}
