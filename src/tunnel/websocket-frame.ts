/**
 * RFC 6455 frame layout (§5.2), pure: opcodes, the header a client puts before a payload, and
 * close-frame payloads. The decoder of server frames is websocket-decoder.ts.
 *
 * Contract:
 *  - `clientFrameHeader` writes FIN=1 (we never fragment), RSV=0 (no extension is negotiated),
 *    MASK=1 (§5.1: every client frame is masked) and the 4-byte key it is given. The caller
 *    masks the payload with that key (`maskedCopy`), or sends it as is when the key is zero.
 *  - Lengths use the shortest encoding (§5.2 requires it): 7 bits, 16 bits or 64 bits.
 *  - Close codes (§7.4): `isValidCloseCode` accepts what a peer may send on the wire; 1005,
 *    1006 and 1015 are reserved for "no code" / "abnormal" / "TLS" and never appear in a frame.
 */

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** Control frames carry at most this many payload bytes and are never fragmented (§5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** The close code a clean close carries; 1005 stands for a close frame without a code. */
export const CloseCode = { Normal: 1000, ProtocolError: 1002, NoStatus: 1005, Abnormal: 1006 } as const;

export const MASK_KEY_BYTES = 4;

/** The longest client frame header: 2 bytes, an 8-byte length and the key. */
export const MAX_CLIENT_HEADER_BYTES = 2 + 8 + MASK_KEY_BYTES;

/** Header bytes for a client frame of `length` payload bytes (2, 4 or 10, plus the key). */
export function clientFrameHeader(opcode: OpcodeValue, length: number, maskKey: Buffer): Buffer {
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const header = Buffer.allocUnsafe(2 + lengthBytes + MASK_KEY_BYTES);
  header[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    header[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  maskKey.copy(header, 2 + lengthBytes, 0, MASK_KEY_BYTES);
  return header;
}

/** Whether every byte of the key is zero (masking with it leaves the payload as it is). */
export function isZeroKey(maskKey: Buffer): boolean {
  return maskKey[0] === 0 && maskKey[1] === 0 && maskKey[2] === 0 && maskKey[3] === 0;
}

/** A copy of `payload` XORed with `maskKey` (§5.3); the input is left as it is. */
export function maskedCopy(payload: Buffer, maskKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ maskKey[i & 3]!;
  return out;
}

/** The payload of a close frame: the code, then the reason in UTF-8 (cut to fit 125 bytes). */
export function closePayload(code: number, reason = ""): Buffer {
  const text = Buffer.from(reason, "utf8").subarray(0, MAX_CONTROL_PAYLOAD - 2);
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return payload;
}

export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
