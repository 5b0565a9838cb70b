import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { HeaderDeflater, HeaderInflater } from "../../../src/tunnel/header-compression.ts";
import { SPDY_DICTIONARY } from "../../../src/tunnel/spdy-dictionary.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { hex } from "./hex.ts";

/** Feeds one block through a persistent zlib context and sync-flushes it (what spdystream does). */
async function syncFlush(stream: Deflate | Inflate, input: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
  };
  stream.on("data", onData);
  stream.write(input);
  await new Promise<void>((resolve) => stream.flush(constants.Z_SYNC_FLUSH, () => resolve()));
  stream.off("data", onData);
  return Buffer.concat(chunks);
}

const blocks = [
  "streamtype error port 8080 requestid 0",
  "streamtype data port 8080 requestid 0",
  "streamtype error port 8080 requestid 1",
  "x".repeat(40_000),
  "",
  "content-type accept-encoding",
].map((text) => Buffer.from(text));

describe("HeaderDeflater", () => {
  it("writes the zlib header (78 bb, DICTID e3c6a7c2) on the first block only", () => {
    const deflater = new HeaderDeflater();
    const first = deflater.compress(Buffer.from("port"));
    const second = deflater.compress(Buffer.from("port"));
    assert.deepEqual(first.subarray(0, 6), hex("78 bb e3 c6 a7 c2"));
    assert.notDeepEqual(second.subarray(0, 2), hex("78 bb"));
  });

  it("ends every block with a sync flush marker (00 00 ff ff)", () => {
    const deflater = new HeaderDeflater();
    for (const block of blocks) assert.deepEqual(deflater.compress(block).subarray(-4), hex("00 00 ff ff"));
  });

  it("produces one stream that a persistent zlib inflater decodes block by block", async () => {
    const deflater = new HeaderDeflater();
    const peer = createInflate({ dictionary: SPDY_DICTIONARY });
    for (const block of blocks) assert.deepEqual(await syncFlush(peer, deflater.compress(block)), block);
    peer.close();
  });

  it("writes stored blocks (no zlib context per block): the header bytes as they are, then the marker", () => {
    const deflater = new HeaderDeflater();
    deflater.compress(Buffer.from("first"));
    assert.deepEqual(deflater.compress(Buffer.from("ab")), hex("00 02 00 fd ff 61 62 | 00 00 00 ff ff"));
    assert.deepEqual(deflater.compress(Buffer.alloc(0)), hex("00 00 00 ff ff"));
  });

  it("splits a block larger than 65,535 bytes into several stored blocks that decode as one", async () => {
    const deflater = new HeaderDeflater();
    const peer = createInflate({ dictionary: SPDY_DICTIONARY });
    const big = Buffer.alloc(150_000, "abcdefgh");
    assert.deepEqual(await syncFlush(peer, deflater.compress(Buffer.from("x"))), Buffer.from("x"));
    const compressed = deflater.compress(big);
    assert.equal(compressed.length, big.length + 3 * 5 + 5);
    assert.deepEqual(await syncFlush(peer, compressed), big);
    peer.close();
  });
});

describe("HeaderInflater", () => {
  it("decodes blocks from a persistent level-9 zlib deflater (spdystream), in order", async () => {
    const peer = createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
    const inflater = new HeaderInflater();
    for (const block of blocks) assert.deepEqual(inflater.decompress(await syncFlush(peer, block)), block);
    peer.close();
  });

  it("keeps the last 32 KiB of history across many blocks of every size (back-references into it decode)", async () => {
    const peer = createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
    const inflater = new HeaderInflater();
    const words = ["streamtype", "error", "data", "port", "requestid", "8080", "content-type", "x-forwarded-for"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let total = 0;
    for (let i = 0; total < 600 * 1024; i++) {
      const size = [4, 70, 900, 5000, 20_000, 33_000][next() % 6]!;
      const parts: string[] = [];
      while (parts.join(" ").length < size) parts.push(words[next() % words.length]! + String(next() % 1000));
      const block = Buffer.from(parts.join(" ").slice(0, size));
      total += block.length;
      assert.deepEqual(inflater.decompress(await syncFlush(peer, block)), block, `block ${i} (${size} bytes)`);
    }
    peer.close();
  });

  it("decodes while its history buffer grows from small: short blocks, then one past the window, then one that needs growth", async () => {
    for (const sizes of [
      [...Array.from({ length: 200 }, () => 70), 33_000, 70, 20_000, 70],
      [20_000, 70, 5_000, 33_000, 4],
      [3_000, 3_000, 3_000, 70],
    ]) {
      const peer = createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
      const inflater = new HeaderInflater();
      for (const [i, size] of sizes.entries()) {
        const block = Buffer.from(Array.from({ length: size }, (_, j) => "requestid streamtype port "[(i * 7 + j) % 26]).join(""));
        assert.deepEqual(inflater.decompress(await syncFlush(peer, block)), block, `block ${i} (${size} bytes)`);
      }
      peer.close();
    }
  });

  it("decodes a hand-written stored-block stream: header once, then continuation blocks", () => {
    const inflater = new HeaderInflater();
    // zlib header with FDICT + DICTID, stored block "ab" (len 0002, nlen fffd)
    assert.deepEqual(inflater.decompress(hex("78 bb e3 c6 a7 c2 | 00 02 00 fd ff 61 62")), Buffer.from("ab"));
    // continuation: no zlib header, stored block "c"
    assert.deepEqual(inflater.decompress(hex("00 01 00 fe ff 63")), Buffer.from("c"));
  });

  it("rejects a first block without the SPDY dictionary id", () => {
    assert.throws(
      () => new HeaderInflater().decompress(hex("78 bb 00 00 00 01 | 00 00 00 ff ff")),
      (error: unknown) => error instanceof TunnelError && error.code === "PF_ERR_SPDY_COMPRESSION",
    );
  });

  it("rejects a first block without FDICT and garbage deflate data", () => {
    const isCompression = (error: unknown): boolean => error instanceof TunnelError && error.code === "PF_ERR_SPDY_COMPRESSION";
    assert.throws(() => new HeaderInflater().decompress(hex("78 9c 03 00")), isCompression);
    assert.throws(() => new HeaderInflater().decompress(hex("78 bb e3 c6 a7 c2 ff ff ff ff")), isCompression);
  });
});
