import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HeaderDeflater, HeaderInflater } from "../../../src/tunnel/header-compression.ts";
import { SpdyDecoder } from "../../../src/tunnel/spdy-decoder.ts";
import { encodeFrame } from "../../../src/tunnel/spdy-encoder.ts";
import type { SpdyFrame } from "../../../src/tunnel/spdy-frame.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { joinData } from "./hex.ts";

const streamId = fc.integer({ min: 1, max: 0x7fffffff });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const headerName = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const headers = fc
  .uniqueArray(fc.tuple(headerName, fc.string({ maxLength: 20 })), { selector: ([name]) => name, maxLength: 5 })
  .map((pairs) => new Map(pairs));

const frame: fc.Arbitrary<SpdyFrame> = fc
  .oneof(
    fc.record({
      kind: fc.constant("synStream" as const),
      streamId,
      associatedStreamId: fc.integer({ min: 0, max: 0x7fffffff }),
      priority: fc.integer({ min: 0, max: 7 }),
      slot: fc.integer({ min: 0, max: 255 }),
      flags: fc.integer({ min: 0, max: 3 }),
      headers,
    }),
    fc.record({ kind: fc.constant("synReply" as const), streamId, flags: fc.integer({ min: 0, max: 1 }), headers }),
    fc.record({ kind: fc.constant("headers" as const), streamId, flags: fc.integer({ min: 0, max: 1 }), headers }),
    fc.record({ kind: fc.constant("rstStream" as const), streamId, status: fc.integer({ min: 1, max: 11 }) }),
    fc.record({
      kind: fc.constant("settings" as const),
      flags: fc.integer({ min: 0, max: 1 }),
      entries: fc.array(fc.record({ flags: fc.integer({ min: 0, max: 3 }), id: fc.integer({ min: 0, max: 0xffffff }), value: uint32 }), {
        maxLength: 4,
      }),
    }),
    fc.record({ kind: fc.constant("ping" as const), id: fc.integer({ min: 1, max: 0xffffffff }) }),
    fc.record({ kind: fc.constant("goAway" as const), lastGoodStreamId: fc.integer({ min: 0, max: 0x7fffffff }), status: uint32 }),
    fc.record({ kind: fc.constant("windowUpdate" as const), streamId, delta: fc.integer({ min: 0, max: 0x7fffffff }) }),
    fc.record({
      kind: fc.constant("data" as const),
      streamId,
      flags: fc.integer({ min: 0, max: 1 }),
      data: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    }),
  )
  // fast-check records have a null prototype; the decoder returns plain objects.
  .map((f) => (f.kind === "settings" ? { ...f, entries: f.entries.map((e) => ({ ...e })) } : { ...f }));

/** Cuts a buffer into chunks at the given (sorted, deduplicated) offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe("SPDY codec properties", () => {
  it("decode(encode(frames)) is the identity, however the bytes are chunked", () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, offsets) => {
        const deflater = new HeaderDeflater();
        const bytes = Buffer.concat(frames.flatMap((f) => encodeFrame(f, deflater)));
        const decoder = new SpdyDecoder(new HeaderInflater());
        const decoded = cut(bytes, offsets).flatMap((chunk) => decoder.write(chunk));
        assert.deepEqual(joinData(decoded), joinData(frames));
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });

  it("random bytes never raise an uncoded error", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (chunks) => {
        const decoder = new SpdyDecoder();
        for (const chunk of chunks) {
          try {
            decoder.write(Buffer.from(chunk));
          } catch (error) {
            assert.ok(error instanceof TunnelError, String(error));
            assert.match(error.code, /^PF_ERR_SPDY_(PROTOCOL|COMPRESSION)$/);
            return;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("valid frames followed by corrupted bytes fail only with coded errors", () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (frames, at, value) => {
        const deflater = new HeaderDeflater();
        const bytes = Buffer.from(Buffer.concat(frames.flatMap((f) => encodeFrame(f, deflater))));
        bytes[at % bytes.length] = value;
        try {
          new SpdyDecoder().write(bytes);
        } catch (error) {
          assert.ok(error instanceof TunnelError, String(error));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
