import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SpdyDecoder } from "../../../src/tunnel/spdy-decoder.ts";
import type { SpdyFrame } from "../../../src/tunnel/spdy-frame.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { hex, joinData } from "./hex.ts";

// Frames below are written by hand from the SPDY/3 draft layouts (control: 80 03 | type(16) |
// flags(8) length(24); data: stream id(32) | flags(8) length(24)). Header blocks use zlib
// stored blocks so every byte is hand-computable: 00 | LEN(le16) | NLEN(le16) | bytes.

/** PING id 1. */
const PING_1 = "80 03 00 06 | 00 00 00 04 | 00 00 00 01";
/** RST_STREAM stream 3, CANCEL (5). */
const RST_3_CANCEL = "80 03 00 03 | 00 00 00 08 | 00 00 00 03 | 00 00 00 05";
/** GOAWAY last-good 0, status OK. */
const GOAWAY_OK = "80 03 00 07 | 00 00 00 08 | 00 00 00 00 | 00 00 00 00";
/** WINDOW_UPDATE stream 1, delta 65536. */
const WINDOW_UPDATE = "80 03 00 09 | 00 00 00 08 | 00 00 00 01 | 00 01 00 00";
/** SETTINGS, one entry: flags 01 (persist), id 7 (initial window), value 65536. */
const SETTINGS = "80 03 00 04 | 00 00 00 0c | 00 00 00 01 | 01 00 00 07 | 00 01 00 00";
/** DATA stream 1, FIN, "hi". */
const DATA_FIN_HI = "00 00 00 01 | 01 00 00 02 | 68 69";
/** DATA stream 3, FIN, empty. */
const DATA_FIN_EMPTY = "00 00 00 03 | 01 00 00 00";
/**
 * SYN_STREAM stream 1, headers {port: "80"}: raw block (18 bytes)
 *   00000001 | 00000004 706f7274 | 00000002 3830
 * zlib: 78 bb e3 c6 a7 c2 | stored 00 12 00 ed ff + 18 bytes → 29 bytes; payload 10 + 29 = 0x27.
 */
const SYN_STREAM_PORT_80 =
  "80 03 00 01 | 00 00 00 27 | 00 00 00 01 | 00 00 00 00 | 00 | 00 |" +
  "78 bb e3 c6 a7 c2 | 00 12 00 ed ff | 00 00 00 01 | 00 00 00 04 70 6f 72 74 | 00 00 00 02 38 30";
/** SYN_REPLY stream 1, no headers, same zlib stream continued: stored 00 04 00 fb ff 00000000. */
const SYN_REPLY_EMPTY = "80 03 00 02 | 00 00 00 0d | 00 00 00 01 | 00 04 00 fb ff 00 00 00 00";

const ALL = [SYN_STREAM_PORT_80, SYN_REPLY_EMPTY, PING_1, DATA_FIN_HI, RST_3_CANCEL, SETTINGS, WINDOW_UPDATE, DATA_FIN_EMPTY, GOAWAY_OK];

const EXPECTED: SpdyFrame[] = [
  {
    kind: "synStream",
    streamId: 1,
    associatedStreamId: 0,
    priority: 0,
    slot: 0,
    flags: 0,
    headers: new Map([["port", "80"]]),
  },
  { kind: "synReply", streamId: 1, flags: 0, headers: new Map() },
  { kind: "ping", id: 1 },
  { kind: "data", streamId: 1, flags: 1, data: Buffer.from("hi") },
  { kind: "rstStream", streamId: 3, status: 5 },
  { kind: "settings", flags: 0, entries: [{ flags: 1, id: 7, value: 65536 }] },
  { kind: "windowUpdate", streamId: 1, delta: 65536 },
  { kind: "data", streamId: 3, flags: 1, data: Buffer.alloc(0) },
  { kind: "goAway", lastGoodStreamId: 0, status: 0 },
];

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof TunnelError && error.code === code;
}

describe("SpdyDecoder", () => {
  it("decodes hand-written frames of every type from one coalesced chunk", () => {
    const frames = new SpdyDecoder().write(hex(ALL.join("|")));
    assert.deepEqual(frames, EXPECTED);
  });

  it("decodes the same frames at every split point of the buffer", () => {
    const bytes = hex(ALL.join("|"));
    for (let split = 0; split <= bytes.length; split++) {
      const decoder = new SpdyDecoder();
      const frames = [...decoder.write(bytes.subarray(0, split)), ...decoder.write(bytes.subarray(split))];
      assert.deepEqual(joinData(frames), joinData(EXPECTED), `split at ${split}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  it("decodes the same frames when fed one byte at a time", () => {
    const bytes = hex(ALL.join("|"));
    const decoder = new SpdyDecoder();
    const frames: SpdyFrame[] = [];
    for (let i = 0; i < bytes.length; i++) frames.push(...decoder.write(bytes.subarray(i, i + 1)));
    assert.deepEqual(joinData(frames), joinData(EXPECTED));
  });

  it("decodes the same frames at every pair of split points (three chunks)", () => {
    const bytes = hex([SYN_STREAM_PORT_80, PING_1, DATA_FIN_HI].join("|"));
    for (let a = 0; a <= bytes.length; a++) {
      for (let b = a; b <= bytes.length; b++) {
        const decoder = new SpdyDecoder();
        const frames = [
          ...decoder.write(bytes.subarray(0, a)),
          ...decoder.write(bytes.subarray(a, b)),
          ...decoder.write(bytes.subarray(b)),
        ];
        assert.equal(joinData(frames).length, 3, `splits ${a}/${b}`);
      }
    }
  });

  it("returns DATA payloads as views of the chunk when the frame is inside one chunk", () => {
    const chunk = hex(DATA_FIN_HI);
    const [frame] = new SpdyDecoder().write(chunk);
    assert.ok(frame?.kind === "data");
    assert.equal(frame.data.buffer, chunk.buffer);
  });

  const rejected: Array<[string, string, string]> = [
    ["unknown control type 5 (NOOP)", "80 03 00 05 | 00 00 00 00", "PF_ERR_SPDY_PROTOCOL"],
    ["version 2", "80 02 00 06 | 00 00 00 04 | 00 00 00 01", "PF_ERR_SPDY_PROTOCOL"],
    ["PING of 5 bytes", "80 03 00 06 | 00 00 00 05 | 00 00 00 01 00", "PF_ERR_SPDY_PROTOCOL"],
    ["PING with flags", "80 03 00 06 | 01 00 00 04 | 00 00 00 01", "PF_ERR_SPDY_PROTOCOL"],
    ["PING id 0", "80 03 00 06 | 00 00 00 04 | 00 00 00 00", "PF_ERR_SPDY_PROTOCOL"],
    ["RST_STREAM status 0", "80 03 00 03 | 00 00 00 08 | 00 00 00 01 | 00 00 00 00", "PF_ERR_SPDY_PROTOCOL"],
    ["RST_STREAM on stream 0", "80 03 00 03 | 00 00 00 08 | 00 00 00 00 | 00 00 00 05", "PF_ERR_SPDY_PROTOCOL"],
    ["DATA on stream 0", "00 00 00 00 | 00 00 00 01 | 61", "PF_ERR_SPDY_PROTOCOL"],
    ["GOAWAY of 4 bytes", "80 03 00 07 | 00 00 00 04 | 00 00 00 00", "PF_ERR_SPDY_PROTOCOL"],
    ["SETTINGS count/length mismatch", "80 03 00 04 | 00 00 00 04 | 00 00 00 01", "PF_ERR_SPDY_PROTOCOL"],
    ["SYN_STREAM shorter than 10", "80 03 00 01 | 00 00 00 04 | 00 00 00 01", "PF_ERR_SPDY_PROTOCOL"],
    [
      "uppercase header name",
      "80 03 00 02 | 00 00 00 1c | 00 00 00 01 | 78 bb e3 c6 a7 c2 | 00 0d 00 f2 ff | 00 00 00 01 | 00 00 00 01 50 | 00 00 00 00",
      "PF_ERR_SPDY_PROTOCOL",
    ],
    [
      "duplicate header name",
      "80 03 00 02 | 00 00 00 25 | 00 00 00 01 | 78 bb e3 c6 a7 c2 | 00 16 00 e9 ff | 00 00 00 02 | 00 00 00 01 70 | 00 00 00 00 | 00 00 00 01 70 | 00 00 00 00",
      "PF_ERR_SPDY_PROTOCOL",
    ],
    [
      "header block without the zlib header",
      "80 03 00 02 | 00 00 00 0d | 00 00 00 01 | 00 04 00 fb ff 00 00 00 00",
      "PF_ERR_SPDY_COMPRESSION",
    ],
  ];

  for (const [name, frame, code] of rejected) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(() => new SpdyDecoder().write(hex(frame)), isCode(code));
    });
  }

  it("stays failed after an error, even for valid input", () => {
    const decoder = new SpdyDecoder();
    assert.throws(() => decoder.write(hex("80 03 00 05 | 00 00 00 00")), isCode("PF_ERR_SPDY_PROTOCOL"));
    assert.throws(() => decoder.write(hex(PING_1)), isCode("PF_ERR_SPDY_PROTOCOL"));
  });

  it("rejects frames above the configured payload limit before buffering them", () => {
    const decoder = new SpdyDecoder(undefined, { maxFramePayload: 16 });
    assert.throws(() => decoder.write(hex("00 00 00 01 | 00 00 00 11")), isCode("PF_ERR_SPDY_PROTOCOL"));
  });
});
