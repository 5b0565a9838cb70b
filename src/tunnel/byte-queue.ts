/**
 * The bytes a streaming decoder has received and not yet consumed (pure): a list of the chunks
 * as they arrived, so consuming is a view whenever one chunk holds what is asked for.
 *
 * Contract:
 *  - `consume(n)` (n ≤ `length`) removes and returns the next n bytes: a view of a chunk when
 *    one chunk holds them, else a copy (only what straddles chunks is copied; headers mostly).
 *  - `nextChunkLength` is how much the next view-only `consume` can take (0 when empty), so a
 *    payload can be streamed as views, chunk by chunk.
 *  - `peekByte(i)` (i < `length`) reads without consuming; `clear()` drops everything.
 *  - A pushed chunk is kept by reference: its owner must not change it afterwards.
 */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  get nextChunkLength(): number {
    return this.#chunks[0]?.length ?? 0;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }

  peekByte(offset: number): number {
    let index = offset;
    for (const chunk of this.#chunks) {
      if (index < chunk.length) return chunk[index]!;
      index -= chunk.length;
    }
    throw new RangeError("peek beyond the queued bytes");
  }

  consume(length: number): Buffer {
    if (length === 0) return Buffer.alloc(0);
    if (length > this.#length) throw new RangeError("consume beyond the queued bytes");
    this.#length -= length;
    const first = this.#chunks[0]!;
    if (first.length >= length) {
      if (first.length === length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    const out = Buffer.allocUnsafe(length);
    let offset = 0;
    while (offset < length) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, length - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
