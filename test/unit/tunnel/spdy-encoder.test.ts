import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, inflateSync } from "node:zlib";
import { HeaderDeflater } from "../../../src/tunnel/header-compression.ts";
import { SPDY_DICTIONARY } from "../../../src/tunnel/spdy-dictionary.ts";
import { encodeDataHeader, encodeFrame } from "../../../src/tunnel/spdy-encoder.ts";
import type { SpdyFrame } from "../../../src/tunnel/spdy-frame.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { hex } from "./hex.ts";

function encode(frame: SpdyFrame, deflater = new HeaderDeflater()): Buffer {
  return Buffer.concat(encodeFrame(frame, deflater));
}

describe("encodeFrame", () => {
  const cases: Array<[string, SpdyFrame, string]> = [
    ["PING id 1", { kind: "ping", id: 1 }, "80 03 00 06 | 00 00 00 04 | 00 00 00 01"],
    ["PING id 0x7fffffff", { kind: "ping", id: 0x7fffffff }, "80 03 00 06 | 00 00 00 04 | 7f ff ff ff"],
    ["RST_STREAM 3 CANCEL", { kind: "rstStream", streamId: 3, status: 5 }, "80 03 00 03 | 00 00 00 08 | 00 00 00 03 | 00 00 00 05"],
    ["GOAWAY 5 OK", { kind: "goAway", lastGoodStreamId: 5, status: 0 }, "80 03 00 07 | 00 00 00 08 | 00 00 00 05 | 00 00 00 00"],
    [
      "WINDOW_UPDATE 1 +65536",
      { kind: "windowUpdate", streamId: 1, delta: 65536 },
      "80 03 00 09 | 00 00 00 08 | 00 00 00 01 | 00 01 00 00",
    ],
    [
      "SETTINGS one entry",
      { kind: "settings", flags: 0, entries: [{ flags: 1, id: 7, value: 65536 }] },
      "80 03 00 04 | 00 00 00 0c | 00 00 00 01 | 01 00 00 07 | 00 01 00 00",
    ],
    ['DATA 1 FIN "hi"', { kind: "data", streamId: 1, flags: 1, data: Buffer.from("hi") }, "00 00 00 01 | 01 00 00 02 | 68 69"],
    ["DATA 0x7fffffff empty", { kind: "data", streamId: 0x7fffffff, flags: 0, data: Buffer.alloc(0) }, "7f ff ff ff | 00 00 00 00"],
  ];
  for (const [name, frame, expected] of cases) {
    it(`encodes ${name} to the hand-computed bytes`, () => {
      assert.deepEqual(encode(frame), hex(expected));
    });
  }

  it("keeps a DATA payload uncopied: [8-byte header, payload]", () => {
    const data = Buffer.from("payload");
    const parts = encodeFrame({ kind: "data", streamId: 7, flags: 0, data }, new HeaderDeflater());
    assert.equal(parts.length, 2);
    assert.equal(parts[1], data);
    assert.deepEqual(encodeDataHeader(7, 0, 300), hex("00 00 00 07 | 00 00 01 2c"));
  });

  it("encodes SYN_STREAM with a header block that inflates to the hand-written name/value bytes", () => {
    const deflater = new HeaderDeflater();
    const frame = encode(
      {
        kind: "synStream",
        streamId: 1,
        associatedStreamId: 0,
        priority: 0,
        slot: 0,
        flags: 0,
        headers: new Map([["port", "80"]]),
      },
      deflater,
    );
    const blockLength = frame.length - 18;
    const length = 10 + blockLength;
    assert.deepEqual(
      frame.subarray(0, 18),
      hex(`80 03 00 01 | 00 00 ${length.toString(16).padStart(4, "0")} | 00 00 00 01 | 00 00 00 00 | 00 00`),
    );
    const block = frame.subarray(18);
    assert.deepEqual(block.subarray(0, 6), hex("78 bb e3 c6 a7 c2"));
    const raw = inflateSync(block, { dictionary: SPDY_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    assert.deepEqual(raw, hex("00 00 00 01 | 00 00 00 04 70 6f 72 74 | 00 00 00 02 38 30"));
  });

  it("puts the zlib header only in the first header block of the connection", () => {
    const deflater = new HeaderDeflater();
    const headers = new Map([["streamtype", "data"]]);
    const first = encode({ kind: "synReply", streamId: 2, flags: 0, headers }, deflater);
    const second = encode({ kind: "synReply", streamId: 4, flags: 0, headers }, deflater);
    assert.deepEqual(first.subarray(12, 14), hex("78 bb"));
    assert.notDeepEqual(second.subarray(12, 14), hex("78 bb"));
  });

  it("encodes priority in the top three bits and the FIN/UNIDIRECTIONAL flags", () => {
    const frame = encode({
      kind: "synStream",
      streamId: 3,
      associatedStreamId: 1,
      priority: 7,
      slot: 0,
      flags: 3,
      headers: new Map(),
    });
    assert.deepEqual(frame.subarray(0, 18).subarray(4, 5), hex("03"));
    assert.deepEqual(frame.subarray(12, 18), hex("00 00 00 01 | e0 00"));
  });

  const invalid: Array<[string, SpdyFrame]> = [
    ["stream id 0", { kind: "rstStream", streamId: 0, status: 5 }],
    ["stream id 2^31", { kind: "data", streamId: 2 ** 31, flags: 0, data: Buffer.alloc(0) }],
    ["RST status 0", { kind: "rstStream", streamId: 1, status: 0 }],
    ["PING id 0", { kind: "ping", id: 0 }],
    ["uppercase header name", { kind: "synReply", streamId: 1, flags: 0, headers: new Map([["Port", "1"]]) }],
    ["priority 8", { kind: "synStream", streamId: 1, associatedStreamId: 0, priority: 8, slot: 0, flags: 0, headers: new Map() }],
  ];
  for (const [name, frame] of invalid) {
    it(`refuses to encode ${name} with PF_ERR_SPDY_PROTOCOL`, () => {
      assert.throws(
        () => encode(frame),
        (error: unknown) => error instanceof TunnelError && error.code === "PF_ERR_SPDY_PROTOCOL",
      );
    });
  }
});
