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
 */

import type { ByteTransport } from "./byte-transport.ts";

export interface FrameWriterOptions {
  readonly defer: (callback: () => void) => void;
  /** Flush synchronously once this many bytes are queued. */
  readonly maxBatchBytes?: number;
  /** Stop releasing write callbacks above this many queued bytes. */
  readonly highWaterBytes?: number;
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

  constructor(transport: ByteTransport, options: FrameWriterOptions) {
    this.#transport = transport;
    this.#defer = options.defer;
    this.#maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.#highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
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
    const bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#queuedBytes);
    this.#parts = [];
    this.#queuedBytes = 0;
    this.#writes++;
    if (!this.#transport.write(bytes)) this.#congested = true;
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
  }

  #onDeferredFlush(): void {
    this.#flushScheduled = false;
    if (!this.#closed) this.flush();
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
