/**
 * SPDY/3.1 frame model: the typed frames the decoder emits and the encoder accepts.
 *
 * Wire layout (all integers big-endian; SPDY/3 draft §2.2, `spdystream/spdy/types.go`):
 *   control frame: |1|version(15)=3|type(16)|flags(8)|length(24)|payload(length)|
 *   data frame:    |0|stream id(31)|flags(8)|length(24)|payload(length)|
 * Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are zlib-compressed name/value blocks, see
 * header-block.ts and header-compression.ts. Only the eight control types below exist for
 * moby/spdystream; any other type is fatal there, so we never send one and reject them on read.
 */

export const SPDY_VERSION = 3;

/** Control frame type numbers. */
export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** FIN: the sender will send nothing more on this stream (control and data frames). */
export const FLAG_FIN = 0x01;
/** SYN_STREAM only: the recipient may not send on this stream. */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (SPDY/3 §2.6.3). */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  InvalidCredentials: 10,
  FrameTooLarge: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

/** 8-byte frame header size for both kinds. */
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a 24-bit length can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;
/** Largest stream id (31 bits). */
export const MAX_STREAM_ID = 0x7fffffff;

/** Header names are lowercase and unique; several values of one name are joined with NUL. */
export type HeaderBlock = ReadonlyMap<string, string>;

export interface SynStreamFrame {
  readonly kind: "synStream";
  readonly streamId: number;
  readonly associatedStreamId: number;
  /** 0 (highest) … 7. */
  readonly priority: number;
  readonly slot: number;
  readonly flags: number;
  readonly headers: HeaderBlock;
}

export interface SynReplyFrame {
  readonly kind: "synReply";
  readonly streamId: number;
  readonly flags: number;
  readonly headers: HeaderBlock;
}

export interface RstStreamFrame {
  readonly kind: "rstStream";
  readonly streamId: number;
  readonly status: number;
}

export interface SettingsEntry {
  readonly flags: number;
  readonly id: number;
  readonly value: number;
}

export interface SettingsFrame {
  readonly kind: "settings";
  readonly flags: number;
  readonly entries: readonly SettingsEntry[];
}

export interface PingFrame {
  readonly kind: "ping";
  readonly id: number;
}

export interface GoAwayFrame {
  readonly kind: "goAway";
  readonly lastGoodStreamId: number;
  readonly status: number;
}

export interface HeadersFrame {
  readonly kind: "headers";
  readonly streamId: number;
  readonly flags: number;
  readonly headers: HeaderBlock;
}

export interface WindowUpdateFrame {
  readonly kind: "windowUpdate";
  readonly streamId: number;
  readonly delta: number;
}

export interface DataFrame {
  readonly kind: "data";
  readonly streamId: number;
  readonly flags: number;
  readonly data: Buffer;
}

export type SpdyFrame =
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoAwayFrame
  | HeadersFrame
  | WindowUpdateFrame
  | DataFrame;

export function isFin(frame: { readonly flags: number }): boolean {
  return (frame.flags & FLAG_FIN) !== 0;
}
