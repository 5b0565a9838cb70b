import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteQueue } from "../../../src/tunnel/byte-queue.ts";

describe("ByteQueue", () => {
  it("consumes views within a chunk and copies only across chunks", () => {
    const queue = new ByteQueue();
    const a = Buffer.from("abcdef");
    queue.push(a);
    queue.push(Buffer.alloc(0));
    queue.push(Buffer.from("ghij"));
    assert.equal(queue.length, 10);
    assert.equal(queue.nextChunkLength, 6);
    const view = queue.consume(2);
    assert.equal(view.toString(), "ab");
    assert.equal(view.buffer, a.buffer, "a view of the first chunk");
    assert.equal(String.fromCharCode(queue.peekByte(5)), "h");
    assert.equal(queue.consume(6).toString(), "cdefgh");
    assert.equal(queue.length, 2);
    assert.equal(queue.consume(0).length, 0);
    assert.throws(() => queue.consume(3), RangeError);
    assert.throws(() => queue.peekByte(2), RangeError);
    queue.clear();
    assert.equal(queue.length, 0);
    assert.equal(queue.nextChunkLength, 0);
  });
});
