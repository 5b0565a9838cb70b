import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeV4Data, V4ChannelDemuxer } from "../../../src/tunnel/legacy-v4-demuxer.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { hex } from "./hex.ts";

// Port 8080 = 0x1f90 → little-endian prefix 90 1f.

describe("V4ChannelDemuxer", () => {
  it("strips the 2-byte little-endian port prefix once per channel (separate 3-byte messages)", () => {
    const demuxer = new V4ChannelDemuxer([8080]);
    assert.deepEqual(demuxer.handleMessage(hex("00 90 1f")), []);
    assert.deepEqual(demuxer.handleMessage(hex("01 90 1f")), []);
    assert.deepEqual(demuxer.handleMessage(hex("00 68 69")), [{ kind: "data", portIndex: 0, data: Buffer.from("hi") }]);
    assert.deepEqual(demuxer.handleMessage(hex("00 90 1f")), [{ kind: "data", portIndex: 0, data: hex("90 1f") }], "only once");
  });

  it("strips a prefix split across messages and keeps the data after it", () => {
    const demuxer = new V4ChannelDemuxer([8080]);
    assert.deepEqual(demuxer.handleMessage(hex("00 90")), []);
    assert.deepEqual(demuxer.handleMessage(hex("00 1f 61 62")), [{ kind: "data", portIndex: 0, data: Buffer.from("ab") }]);
  });

  it("strips a prefix coalesced with data in one message", () => {
    const demuxer = new V4ChannelDemuxer([8080]);
    assert.deepEqual(demuxer.handleMessage(hex("00 90 1f 61")), [{ kind: "data", portIndex: 0, data: Buffer.from("a") }]);
  });

  it("returns error-channel text, split over several messages", () => {
    const demuxer = new V4ChannelDemuxer([8080]);
    demuxer.handleMessage(hex("01 90"));
    const text = "error forwarding port 8080 to pod abc, uid : connection refused";
    const bytes = Buffer.from(text);
    const first = demuxer.handleMessage(Buffer.concat([hex("01 1f"), bytes.subarray(0, 10)]));
    const second = demuxer.handleMessage(Buffer.concat([hex("01"), bytes.subarray(10)]));
    assert.equal([...first, ...second].map((e) => (e.kind === "error" ? e.text : "")).join(""), text);
  });

  it("maps channels 2i/2i+1 to the i-th port", () => {
    const demuxer = new V4ChannelDemuxer([80, 443]);
    demuxer.handleMessage(hex("02 bb 01"));
    assert.deepEqual(demuxer.handleMessage(hex("02 7a")), [{ kind: "data", portIndex: 1, data: Buffer.from("z") }]);
  });

  it("ignores empty messages", () => {
    assert.deepEqual(new V4ChannelDemuxer([1]).handleMessage(Buffer.alloc(0)), []);
  });

  it("rejects unknown channels and a prefix naming another port with PF_ERR_CHANNEL_PROTOCOL", () => {
    const isChannel = (error: unknown): boolean => error instanceof TunnelError && error.code === "PF_ERR_CHANNEL_PROTOCOL";
    assert.throws(() => new V4ChannelDemuxer([8080]).handleMessage(hex("02 00")), isChannel);
    assert.throws(() => new V4ChannelDemuxer([8080]).handleMessage(hex("00 50 00")), isChannel);
  });
});

describe("encodeV4Data", () => {
  it("prefixes the data channel byte and never a port", () => {
    assert.deepEqual(encodeV4Data(0, Buffer.from("hi")), hex("00 68 69"));
    assert.deepEqual(encodeV4Data(1, Buffer.from("hi")), hex("02 68 69"));
  });
});
