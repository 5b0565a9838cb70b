/**
 * SPDY/3 header compression: one zlib stream per direction per connection, preset with the
 * SPDY/3 dictionary, Z_SYNC_FLUSH after every header block (SPDY/3 draft §2.6.10.1; spdystream
 * keeps one zlib.Writer and one lazily created reader per connection).
 *
 * Decision (ADR): node:zlib has no public synchronous API over a persistent context
 * (`deflateSync`/`inflateSync` start a fresh stream; streaming objects are asynchronous, and
 * `_processChunk` is internal). We still keep exactly ONE logical stream per direction, and
 * compute it synchronously, by carrying the only state that survives a sync flush ourselves:
 * after Z_SYNC_FLUSH the deflate stream is byte-aligned and at a block boundary, so the next
 * block is decodable by a fresh raw inflater whose preset dictionary is the last 32 KiB of
 * everything the stream produced so far (the SPDY dictionary counts as the first bytes of that
 * history). So:
 *  - HeaderInflater: strips and checks the zlib header (CMF/FLG with FDICT, DICTID 0xe3c6a7c2)
 *    on the first block only, then raw-inflates each block with `dictionary = window`, and
 *    appends the output to the window. Identical output to a persistent inflater fed the same
 *    blocks in order (unit-tested against one).
 *  - HeaderDeflater: emits the zlib header (78 bb + DICTID) once, then raw-deflates each block
 *    with `dictionary = recent history` and Z_SYNC_FLUSH, which a persistent peer inflater
 *    (Go's zlib reader in spdystream) decodes as the continuation of one stream. History is
 *    capped (HISTORY_BYTES) to bound per-block CPU; any suffix of the history is a valid
 *    dictionary, it only costs a little compression.
 * The Adler-32 trailer is never reached (the stream is never finished), so it is not tracked.
 * Costs: one short-lived zlib context per header block, i.e. per stream, not per data frame.
 */

import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ID } from "./spdy-dictionary.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

/** Deflate's maximum back-reference distance: the inflate window. */
const WINDOW_BYTES = 32 * 1024;
/** How much history the deflater offers as dictionary (≥ the SPDY dictionary). */
const HISTORY_BYTES = 4 * 1024;
/** Largest decompressed header block accepted (zip-bomb guard). */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/** zlib header for level 6 with FDICT: CMF 0x78, FLG 0xbb ((0x78bb % 31) === 0), then DICTID. */
const ZLIB_HEADER = Buffer.from([0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2]);
const ZLIB_HEADER_BYTES = 6;

function compressionError(message: string, cause?: unknown): TunnelError {
  return new TunnelError(TunnelErrorCode.SpdyCompression, `SPDY header compression: ${message}`, { cause });
}

function appendWindow(window: Buffer, output: Buffer, limit: number): Buffer {
  if (output.length === 0) return window;
  const total = window.length + output.length;
  if (total <= limit) return Buffer.concat([window, output], total);
  const next = Buffer.allocUnsafe(limit);
  if (output.length >= limit) {
    output.copy(next, 0, output.length - limit);
  } else {
    const keep = limit - output.length;
    window.copy(next, 0, window.length - keep);
    output.copy(next, keep);
  }
  return next;
}

export class HeaderDeflater {
  #history: Buffer = SPDY_DICTIONARY.subarray(SPDY_DICTIONARY.length - Math.min(HISTORY_BYTES, SPDY_DICTIONARY.length));
  #headerSent = false;

  /** Compresses one uncompressed header block; the result is the frame's header-block field. */
  compress(block: Buffer): Buffer {
    let raw: Buffer;
    try {
      raw = deflateRawSync(block, {
        dictionary: this.#history,
        finishFlush: constants.Z_SYNC_FLUSH,
        level: 6,
      });
    } catch (error) {
      throw compressionError("deflate failed", error);
    }
    this.#history = appendWindow(this.#history, block, HISTORY_BYTES);
    if (this.#headerSent) return raw;
    this.#headerSent = true;
    return Buffer.concat([ZLIB_HEADER, raw]);
  }
}

export class HeaderInflater {
  #window: Buffer = SPDY_DICTIONARY;
  #headerSeen = false;

  /** Decompresses the next header block of this direction, in frame order. */
  decompress(compressed: Buffer): Buffer {
    let body = compressed;
    if (!this.#headerSeen) {
      body = compressed.subarray(checkZlibHeader(compressed));
      this.#headerSeen = true;
    }
    let output: Buffer;
    try {
      output = inflateRawSync(body, {
        dictionary: this.#window,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER_BLOCK_BYTES,
      });
    } catch (error) {
      throw compressionError("inflate failed", error);
    }
    this.#window = appendWindow(this.#window, output, WINDOW_BYTES);
    return output;
  }
}

/** Validates the RFC 1950 header that starts the first block; returns its length. */
function checkZlibHeader(block: Buffer): number {
  if (block.length < ZLIB_HEADER_BYTES) throw compressionError("first header block is shorter than a zlib header");
  const cmf = block[0]!;
  const flg = block[1]!;
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7) throw compressionError(`not a deflate stream (CMF 0x${cmf.toString(16)})`);
  if ((cmf * 256 + flg) % 31 !== 0) throw compressionError("zlib header check bits are wrong");
  if ((flg & 0x20) === 0) throw compressionError("zlib stream does not use the SPDY dictionary (FDICT unset)");
  const dictionaryId = block.readUInt32BE(2);
  if (dictionaryId !== SPDY_DICTIONARY_ID) {
    throw compressionError(`unexpected dictionary id 0x${dictionaryId.toString(16)}`);
  }
  return ZLIB_HEADER_BYTES;
}
