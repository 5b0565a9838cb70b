/**
 * SPDY/3 name/value header block, uncompressed form (SPDY/3 draft §2.6.10):
 *   |pair count(32)| then per pair |name length(32)|name|value length(32)|value|
 * Contract (matching spdystream, which kills the whole connection otherwise): names are
 * non-empty and lowercase, no name appears twice; several values are joined with NUL.
 * Parsing must consume the block exactly. Violations throw PF_ERR_SPDY_PROTOCOL.
 */

import type { HeaderBlock } from "./spdy-frame.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

function protocolError(message: string): TunnelError {
  return new TunnelError(TunnelErrorCode.SpdyProtocol, `SPDY header block: ${message}`);
}

export function encodeHeaderBlock(headers: HeaderBlock): Buffer {
  const encoded: Array<readonly [Buffer, Buffer]> = [];
  let size = 4;
  for (const [name, value] of headers) {
    if (name.length === 0 || name !== name.toLowerCase()) {
      throw protocolError(`header name ${JSON.stringify(name)} must be non-empty and lowercase`);
    }
    const pair = [Buffer.from(name, "utf8"), Buffer.from(value, "utf8")] as const;
    encoded.push(pair);
    size += 8 + pair[0].length + pair[1].length;
  }
  const block = Buffer.allocUnsafe(size);
  let offset = block.writeUInt32BE(encoded.length, 0);
  for (const [name, value] of encoded) {
    offset = block.writeUInt32BE(name.length, offset);
    offset += name.copy(block, offset);
    offset = block.writeUInt32BE(value.length, offset);
    offset += value.copy(block, offset);
  }
  return block;
}

export function decodeHeaderBlock(block: Buffer): HeaderBlock {
  if (block.length < 4) throw protocolError("shorter than its pair count");
  const count = block.readUInt32BE(0);
  // Each pair takes at least 8 bytes: reject absurd counts before looping.
  if (count > (block.length - 4) / 8) throw protocolError(`pair count ${count} exceeds the block`);
  const headers = new Map<string, string>();
  let offset = 4;
  const readString = (what: string): string => {
    if (offset + 4 > block.length) throw protocolError(`truncated ${what} length`);
    const length = block.readUInt32BE(offset);
    offset += 4;
    if (length > block.length - offset) throw protocolError(`truncated ${what}`);
    const value = block.toString("utf8", offset, offset + length);
    offset += length;
    return value;
  };
  for (let i = 0; i < count; i++) {
    const name = readString("name");
    if (name.length === 0) throw protocolError("empty header name");
    if (name !== name.toLowerCase()) throw protocolError(`header name ${JSON.stringify(name)} is not lowercase`);
    if (headers.has(name)) throw protocolError(`duplicate header ${JSON.stringify(name)}`);
    headers.set(name, readString("value"));
  }
  if (offset !== block.length) throw protocolError(`${block.length - offset} trailing bytes`);
  return headers;
}
