/**
 * SPDY/3 header compression: one zlib stream per direction per connection, preset with the
 * SPDY/3 dictionary, Z_SYNC_FLUSH after every header block (SPDY/3 draft §2.6.10.1; spdystream
 * keeps one zlib.Writer and one lazily created reader per connection).
 *
 * Decision (ADR): node:zlib has no public synchronous API over a persistent context
 * (`deflateSync`/`inflateSync` start a fresh stream; streaming objects are asynchronous, and
 * `_processChunk` is internal). We still keep exactly ONE logical stream per direction, and
 * compute it synchronously:
 *  - HeaderInflater: after Z_SYNC_FLUSH a deflate stream is byte-aligned and at a block
 *    boundary, so the next block is decodable by a fresh raw inflater whose preset dictionary
 *    is the last 32 KiB of everything the stream produced so far (the SPDY dictionary counts as
 *    the first bytes of that history). It strips and checks the zlib header (CMF/FLG with FDICT,
 *    DICTID 0xe3c6a7c2) on the first block only, then raw-inflates each block with
 *    `dictionary = window`, and appends the output to the window. Identical output to a
 *    persistent inflater fed the same blocks in order (unit-tested against one).
 *  - HeaderDeflater: emits the zlib header (78 bb + DICTID) once, then each block as STORED
 *    deflate blocks (BTYPE 00, RFC 1951 §3.2.4: the bytes as they are, at most 65,535 per block)
 *    followed by the sync-flush marker (an empty stored block, 00 00 00 ff ff) — exactly what
 *    zlib's level 0 writes. A persistent peer inflater (Go's compress/flate in spdystream)
 *    decodes it as the continuation of one stream. Until issue #15 each block was raw-deflated
 *    at level 6 by a fresh zlib context with the recent history as dictionary: about 0.1 ms of
 *    CPU and ~300 KB of zlib state per block, i.e. ~600 KB per connection that V8 counts as
 *    external memory, so a run of new connections triggered a full mark-compact (10–25 ms
 *    pauses on this heap) every few hundred connections — the p99 of new connections. Our
 *    header blocks are three short pairs (~70 bytes); compressing them would save ~40 bytes
 *    per stream, nothing worth a zlib context.
 * The Adler-32 trailer is never reached (the stream is never finished), so it is not tracked.
 * Costs: one short-lived zlib context per received header block (SYN_REPLY), none per sent one.
 */

import { constants, inflateRawSync } from "node:zlib";
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ID } from "./spdy-dictionary.ts";
import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

/** Deflate's maximum back-reference distance: the inflate window. */
const WINDOW_BYTES = 32 * 1024;
/** HeaderInflater's history buffer: first size (the SPDY dictionary and a few blocks) and largest. */
const INITIAL_HISTORY_BYTES = 4 * 1024;
const MAX_HISTORY_BYTES = 4 * WINDOW_BYTES;
/** Largest payload of one stored deflate block (its LEN field is 16 bits). */
const MAX_STORED_BLOCK_BYTES = 0xffff;
/** Z_SYNC_FLUSH's marker: an empty, non-final stored block. */
const SYNC_FLUSH_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
/** Largest decompressed header block accepted (zip-bomb guard). */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/** zlib header with FDICT: CMF 0x78, FLG 0xbb ((0x78bb % 31) === 0; FLEVEL is informational only), then DICTID. */
const ZLIB_HEADER = Buffer.from([0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2]);
const ZLIB_HEADER_BYTES = 6;

function compressionError(message: string, cause?: unknown): TunnelError {
  return new TunnelError(TunnelErrorCode.SpdyCompression, `SPDY header compression: ${message}`, { cause });
}

export class HeaderDeflater {
  #headerSent = false;

  /** Compresses one uncompressed header block; the result is the frame's header-block field. */
  compress(block: Buffer): Buffer {
    const prefix = this.#headerSent ? 0 : ZLIB_HEADER_BYTES;
    const blocks = Math.ceil(block.length / MAX_STORED_BLOCK_BYTES);
    const out = Buffer.allocUnsafe(prefix + blocks * 5 + block.length + SYNC_FLUSH_MARKER.length);
    let offset = 0;
    if (!this.#headerSent) {
      offset += ZLIB_HEADER.copy(out, 0);
      this.#headerSent = true;
    }
    for (let start = 0; start < block.length; start += MAX_STORED_BLOCK_BYTES) {
      const length = Math.min(MAX_STORED_BLOCK_BYTES, block.length - start);
      out[offset] = 0x00; // BFINAL 0, BTYPE 00 (stored); the stream is byte-aligned here
      out.writeUInt16LE(length, offset + 1);
      out.writeUInt16LE(~length & 0xffff, offset + 3);
      offset += 5;
      offset += block.copy(out, offset, start, start + length);
    }
    SYNC_FLUSH_MARKER.copy(out, offset);
    return out;
  }
}

export class HeaderInflater {
  /**
   * The stream's history: `#history[#start … #end)` holds at most the last 32 KiB of output
   * (the SPDY dictionary first). Appending copies into the free space behind it and only moves
   * the last 32 KiB to the front when the buffer is full, so a block costs no new buffer (a new
   * 32 KiB window per SYN_REPLY was 32 KiB of external memory per stream for V8 to collect).
   * The buffer starts small and doubles up to MAX_HISTORY_BYTES as header blocks arrive: an
   * idle tunnel has seen a few SYN_REPLYs of ~100 bytes, and a 128 KiB buffer allocated up front
   * was most of what a tunnel cost the gateway (bench/tunnel-budget.ts: ~140 KiB per tunnel).
   */
  #history: Buffer = Buffer.allocUnsafeSlow(INITIAL_HISTORY_BYTES);
  #start = 0;
  #end = SPDY_DICTIONARY.copy(this.#history, 0);
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
        dictionary: this.#history.subarray(this.#start, this.#end),
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER_BLOCK_BYTES,
      });
    } catch (error) {
      throw compressionError("inflate failed", error);
    }
    this.#remember(output);
    return output;
  }

  #remember(output: Buffer): void {
    if (output.length >= WINDOW_BYTES) {
      if (this.#history.length < MAX_HISTORY_BYTES) this.#history = Buffer.allocUnsafeSlow(MAX_HISTORY_BYTES);
      this.#start = 0;
      this.#end = output.copy(this.#history, 0, output.length - WINDOW_BYTES);
      return;
    }
    if (this.#end + output.length > this.#history.length) {
      const keep = Math.min(this.#end - this.#start, WINDOW_BYTES - output.length);
      const needed = keep + output.length;
      let target = this.#history;
      if (needed * 2 > target.length && target.length < MAX_HISTORY_BYTES) {
        // Grow (so compaction stays rare: at least as much free space as kept history).
        let size = target.length * 2;
        while (size < needed * 2 && size < MAX_HISTORY_BYTES) size *= 2;
        target = Buffer.allocUnsafeSlow(Math.min(size, MAX_HISTORY_BYTES));
      }
      this.#history.copy(target, 0, this.#end - keep, this.#end);
      this.#history = target;
      this.#start = 0;
      this.#end = keep;
    }
    this.#end += output.copy(this.#history, this.#end);
    if (this.#end - this.#start > WINDOW_BYTES) this.#start = this.#end - WINDOW_BYTES;
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
