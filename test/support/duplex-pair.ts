/**
 * In-memory pair of ByteTransports (ws `test/duplex-pair.js` in spirit) with real backpressure:
 * bytes written on one side are delivered asynchronously to the other; `write` returns false
 * once the receiver holds more than `highWaterBytes` undelivered (e.g. because it paused), and
 * the writer gets `onDrain` when the receiver has caught up.
 */

import type { ByteTransport, TransportSink } from "../../src/tunnel/byte-transport.ts";
import { TunnelError, TunnelErrorCode } from "../../src/tunnel/tunnel-error.ts";

export class MemoryTransport implements ByteTransport {
  peer: MemoryTransport | null = null;
  /** Every buffer passed to write(), for assertions on message counts. */
  readonly written: Buffer[] = [];
  paused = false;
  closed = false;
  readonly #highWaterBytes: number;
  #sink: TransportSink | null = null;
  #inbox: Buffer[] = [];
  #inboxBytes = 0;
  #deliveryScheduled = false;
  #needDrain = false;
  #closeAfterDelivery: TunnelError | null | undefined = undefined;

  constructor(highWaterBytes: number) {
    this.#highWaterBytes = highWaterBytes;
  }

  get inboxBytes(): number {
    return this.#inboxBytes;
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
    this.#scheduleDelivery();
  }

  write(bytes: Buffer): boolean {
    if (this.closed || this.peer === null) return false;
    this.written.push(bytes);
    this.peer.#receive(Buffer.from(bytes));
    if (this.peer.#inboxBytes >= this.#highWaterBytes) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.#scheduleDelivery();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.peer !== null) this.peer.#closeWhenDelivered(null);
    this.#sink?.onClose(null);
  }

  destroy(error: TunnelError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.peer !== null)
      this.peer.#closeWhenDelivered(new TunnelError(TunnelErrorCode.Network, "peer destroyed the transport", { cause: error }));
    this.#sink?.onClose(error);
  }

  #receive(bytes: Buffer): void {
    this.#inbox.push(bytes);
    this.#inboxBytes += bytes.length;
    this.#scheduleDelivery();
  }

  #closeWhenDelivered(error: TunnelError | null): void {
    this.#closeAfterDelivery = error;
    this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#deliveryScheduled) return;
    this.#deliveryScheduled = true;
    setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#deliveryScheduled = false;
    if (this.#sink === null) return;
    while (!this.paused && this.#inbox.length > 0 && !this.closed) {
      const bytes = this.#inbox.shift()!;
      this.#inboxBytes -= bytes.length;
      this.#sink.onData(bytes);
    }
    const writer = this.peer;
    if (writer === null) return;
    if (writer.#needDrain && this.#inboxBytes < writer.#highWaterBytes) {
      writer.#needDrain = false;
      writer.#sink?.onDrain();
    }
    if (this.#closeAfterDelivery !== undefined && this.#inbox.length === 0 && !this.closed) {
      this.closed = true;
      this.#sink.onClose(this.#closeAfterDelivery);
    }
  }
}

/** Two connected transports: [client, server]. */
export function createTransportPair(highWaterBytes = 256 * 1024): [MemoryTransport, MemoryTransport] {
  const client = new MemoryTransport(highWaterBytes);
  const server = new MemoryTransport(highWaterBytes);
  client.peer = server;
  server.peer = client;
  return [client, server];
}
