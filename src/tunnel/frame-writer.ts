/**
 * Coalescing, backpressure-aware writer from the SPDY session to a ByteTransport.
 *
 * Contract:
 *  - `enqueue(parts)` appends encoded frames; bytes are written in enqueue order (required by the
 *    shared deflate context and increasing stream ids). Nothing is written synchronously unless
 *    the batch reaches `maxBatchBytes`; otherwise one `transport.write` happens per deferred
 *    flush, so a burst of frames from one event-loop turn becomes one WebSocket message
 *    (kubectl sends ~3 messages per frame).
 *  - `whenWritable(callback)` runs the callback now if the transport is not congested and fewer
 *    than `highWaterBytes` are queued, else after the next flush/drain that makes it so. Stream
 *    write callbacks go through it, which propagates transport backpressure to every stream.
 *  - After `close()` queued frames are flushed once and waiters are dropped.
 *  - Memory: a batch of several parts is copied into one batch buffer of `maxBatchBytes`, taken
 *    from a small free list and put back when the transport releases it (ByteTransport `write`
 *    contract), so a steady upload allocates no new ArrayBuffer per batch. (Allocating one per
 *    batch made V8 count 256 KiB of external memory per batch and run a full mark-compact about
 *    every 64 MiB: issue #15's upload profile.) A batch never outgrows its buffer: enqueueing a
 *    frame that would not fit flushes the batch first. A single part is written as it is.
 *  - Headroom: the batch buffer keeps the transport's `headroom` spare in front of the batch and
 *    says so, so a WebSocket transport writes its frame header there and the batch leaves as one
 *    buffer: otherwise the TLS layer copies header and batch into one buffer (issue #15's upload
 *    profile: a second copy of every byte sent).
 */

import type { ByteTransport } from "./byte-transport.ts";

export interface FrameWriterOptions {
  readonly defer: (callback: () => void) => void;
  /** Flush synchronously once this many bytes are queued. */
  readonly maxBatchBytes?: number;
  /** Stop releasing write callbacks above this many queued bytes. */
  readonly highWaterBytes?: number;
  /** Released batch buffers kept for reuse (each `maxBatchBytes`). */
  readonly maxFreeBuffers?: number;
}

export class FrameWriter {
  readonly #transport: ByteTransport;
  readonly #defer: (callback: () => void) => void;
  readonly #maxBatchBytes: number;
  readonly #highWaterBytes: number;
  #parts: Buffer[] = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  #congested = false;
  #closed = false;
  #waiters: Array<() => void> = [];
  #writes = 0;
  readonly #free: Buffer[] = [];
  readonly #maxFreeBuffers: number;
  readonly #headroom: number;

  constructor(transport: ByteTransport, options: FrameWriterOptions) {
    this.#transport = transport;
    this.#headroom = transport.headroom ?? 0;
    this.#defer = options.defer;
    this.#maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.#highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    this.#maxFreeBuffers = options.maxFreeBuffers ?? 8;
  }

  /** Number of transport writes so far (observability and tests). */
  get writes(): number {
    return this.#writes;
  }

  get congested(): boolean {
    return this.#congested;
  }

  enqueue(parts: readonly Buffer[]): void {
    if (this.#closed) return;
    let incoming = 0;
    for (const part of parts) incoming += part.length;
    if (this.#queuedBytes > 0 && this.#queuedBytes + incoming > this.#maxBatchBytes) this.flush();
    for (const part of parts) {
      if (part.length === 0) continue;
      this.#parts.push(part);
      this.#queuedBytes += part.length;
    }
    if (this.#queuedBytes >= this.#maxBatchBytes) {
      this.flush();
    } else if (!this.#flushScheduled && this.#queuedBytes > 0) {
      this.#flushScheduled = true;
      this.#defer(() => this.#onDeferredFlush());
    }
  }

  whenWritable(callback: () => void): void {
    if (this.#closed) return;
    if (this.#isWritable()) callback();
    else this.#waiters.push(callback);
  }

  flush(): void {
    if (this.#queuedBytes === 0) return;
    const parts = this.#parts;
    const length = this.#queuedBytes;
    this.#parts = [];
    this.#queuedBytes = 0;
    this.#writes++;
    let accepted: boolean;
    if (parts.length === 1) {
      accepted = this.#transport.write(parts[0]!);
    } else if (length > this.#maxBatchBytes) {
      accepted = this.#transport.write(Buffer.concat(parts, length));
    } else {
      const headroom = this.#headroom;
      const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(headroom + this.#maxBatchBytes);
      let offset = headroom;
      for (const part of parts) offset += part.copy(buffer, offset);
      accepted = this.#transport.write(buffer.subarray(headroom, headroom + length), () => this.#reuse(buffer), headroom);
    }
    if (!accepted) this.#congested = true;
    this.#releaseWaiters();
  }

  onDrain(): void {
    this.#congested = false;
    this.#releaseWaiters();
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#waiters = [];
    this.#free.length = 0;
  }

  #onDeferredFlush(): void {
    this.#flushScheduled = false;
    if (!this.#closed) this.flush();
  }

  #reuse(buffer: Buffer): void {
    if (!this.#closed && this.#free.length < this.#maxFreeBuffers) this.#free.push(buffer);
  }

  #isWritable(): boolean {
    return !this.#congested && this.#queuedBytes < this.#highWaterBytes;
  }

  #releaseWaiters(): void {
    while (this.#waiters.length > 0 && this.#isWritable()) {
      this.#waiters.shift()!();
    }
  }
}
