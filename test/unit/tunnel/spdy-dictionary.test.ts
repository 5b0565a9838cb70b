import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import { SPDY_DICTIONARY, SPDY_DICTIONARY_ID } from "../../../src/tunnel/spdy-dictionary.ts";

describe("SPDY_DICTIONARY", () => {
  it("is the 1423-byte SPDY/3 dictionary (sha256 51d27341…98407f02)", () => {
    assert.equal(SPDY_DICTIONARY.length, 1423);
    const digest = createHash("sha256").update(SPDY_DICTIONARY).digest("hex");
    assert.ok(digest.startsWith("51d27341"), digest);
    assert.ok(digest.endsWith("98407f02"), digest);
  });

  it("has Adler-32 0xe3c6a7c2, as zlib writes it in the DICTID field", () => {
    const stream = deflateSync(Buffer.from("x"), { dictionary: SPDY_DICTIONARY });
    assert.equal(stream[1]! & 0x20, 0x20, "FDICT set");
    assert.equal(stream.readUInt32BE(2), 0xe3c6a7c2);
    assert.equal(SPDY_DICTIONARY_ID, 0xe3c6a7c2);
  });

  it('starts with the length-prefixed word "options" and ends with "enq=0."', () => {
    assert.equal(SPDY_DICTIONARY.subarray(0, 11).toString("hex"), "000000076f7074696f6e73");
    assert.equal(SPDY_DICTIONARY.subarray(-6).toString("latin1"), "enq=0.");
  });
});
