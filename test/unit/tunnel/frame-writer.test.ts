import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { ByteTransport, TransportSink } from "../../../src/tunnel/byte-transport.ts";
import { FrameWriter } from "../../../src/tunnel/frame-writer.ts";

/** Records every write; `release` runs only when the test says so (like a socket still writing). */
class HoldingTransport implements ByteTransport {
  readonly writes: { bytes: Buffer; copy: Buffer; release: (() => void) | undefined; spareBefore: number }[] = [];
  readonly headroom: number;
  constructor(headroom = 0) {
    this.headroom = headroom;
  }
  attach(_sink: TransportSink): void {}
  write(bytes: Buffer, release?: () => void, spareBefore = 0): boolean {
    this.writes.push({ bytes, copy: Buffer.from(bytes), release, spareBefore });
    return true;
  }
  pause(): void {}
  resume(): void {}
  close(): void {}
  destroy(): void {}
  releaseAll(): void {
    for (const write of this.writes) {
      const release = write.release;
      write.release = undefined;
      release?.();
    }
  }
}

function syncWriter(transport: ByteTransport, maxBatchBytes: number): FrameWriter {
  return new FrameWriter(transport, { defer: (callback) => setImmediate(callback), maxBatchBytes, highWaterBytes: 1 << 30 });
}

describe("FrameWriter", () => {
  it("joins the parts of a batch in order and writes a single part as it is", () => {
    const transport = new HoldingTransport();
    const writer = syncWriter(transport, 1024);
    const single = Buffer.from("only");
    writer.enqueue([single]);
    writer.flush();
    assert.equal(transport.writes[0]!.bytes, single, "a lone part is not copied");
    writer.enqueue([Buffer.from("ab"), Buffer.from("cd")]);
    writer.enqueue([Buffer.from("ef")]);
    writer.flush();
    assert.equal(transport.writes[1]!.bytes.toString(), "abcdef");
    assert.equal(typeof transport.writes[1]!.release, "function", "a joined batch can be released for reuse");
  });

  it("never reuses a batch buffer before the transport released it, and reuses it after", () => {
    const transport = new HoldingTransport();
    const writer = syncWriter(transport, 64);
    for (let i = 0; i < 3; i++) {
      writer.enqueue([Buffer.alloc(8, 0x61 + i), Buffer.alloc(8, 0x41 + i)]);
      writer.flush();
    }
    const [a, b, c] = transport.writes;
    assert.notEqual(a!.bytes.buffer, b!.bytes.buffer);
    assert.notEqual(b!.bytes.buffer, c!.bytes.buffer);
    for (const write of transport.writes) assert.ok(write.bytes.equals(write.copy), "unreleased bytes unchanged");
    transport.releaseAll();
    writer.enqueue([Buffer.alloc(8, 0x7a), Buffer.alloc(8, 0x5a)]);
    writer.flush();
    const reused = transport.writes[3]!;
    assert.ok(
      [a, b, c].some((w) => w!.bytes.buffer === reused.bytes.buffer),
      "a released buffer is reused",
    );
    assert.equal(reused.bytes.toString(), "zzzzzzzzZZZZZZZZ");
  });

  it("flushes before a frame that would not fit, so a batch never outgrows its buffer", () => {
    const transport = new HoldingTransport();
    const writer = syncWriter(transport, 100);
    writer.enqueue([Buffer.alloc(8), Buffer.alloc(60)]);
    writer.enqueue([Buffer.alloc(8), Buffer.alloc(60)]);
    assert.equal(transport.writes.length, 1, "the first frame went out when the second would not fit");
    assert.equal(transport.writes[0]!.bytes.length, 68);
    writer.flush();
    assert.equal(transport.writes[1]!.bytes.length, 68);
    // One frame larger than a batch buffer is still written whole.
    writer.enqueue([Buffer.alloc(8), Buffer.alloc(500, 1)]);
    writer.flush();
    assert.equal(transport.writes[2]!.bytes.length, 508);
  });

  it("carries 64 MiB of random frames byte for byte while buffers are released and reused", () => {
    const transport = new HoldingTransport();
    const writer = syncWriter(transport, 256 * 1024);
    const sent = createHash("sha256");
    const wire = createHash("sha256");
    let total = 0;
    const payload = randomBytes(1024 * 1024);
    for (let i = 0; total < 64 * 1024 * 1024; i++) {
      const header = Buffer.alloc(8, i & 0xff);
      const size = 1 + ((i * 7919) % (32 * 1024));
      const start = (i * 104729) % (payload.length - size);
      const data = payload.subarray(start, start + size);
      sent.update(header).update(data);
      writer.enqueue([header, data]);
      total += size + 8;
      // Release in arrears, like a socket finishing earlier writes while new ones queue.
      if (i % 5 === 4) {
        for (const write of transport.writes.splice(0)) {
          wire.update(write.copy);
          assert.ok(write.bytes.equals(write.copy), "bytes unchanged until released");
          write.release?.();
        }
      }
    }
    writer.flush();
    for (const write of transport.writes.splice(0)) wire.update(write.copy);
    assert.equal(wire.digest("hex"), sent.digest("hex"));
  });

  it("keeps the transport's headroom spare in front of a batch, in the same buffer, and says so", () => {
    const transport = new HoldingTransport(14);
    const writer = syncWriter(transport, 1024);
    writer.enqueue([Buffer.from("head"), Buffer.from("payload")]);
    writer.flush();
    const [write] = transport.writes;
    assert.ok(write !== undefined);
    assert.equal(write.bytes.toString(), "headpayload");
    assert.equal(write.spareBefore, 14);
    assert.ok(write.bytes.byteOffset >= 14, "the spare bytes are in front of the batch in its buffer");
    writer.enqueue([Buffer.from("single")]);
    writer.flush();
    assert.equal(transport.writes[1]?.spareBefore, 0, "a single part is written as it is, without headroom");
  });
});
