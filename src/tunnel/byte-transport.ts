/**
 * The byte transport a SPDY session (or a legacy v4 connection) runs over.
 *
 * Contract:
 *  - `write(bytes, release?)` queues bytes and returns false once the transport's buffer is above
 *    its high-water mark; the writer must then wait for `onDrain`. Writes after close are dropped.
 *    `release`, when given, runs at most once, after the transport (and the socket below it) no
 *    longer reads `bytes`, so the writer may reuse that memory; it does not run when the write
 *    failed or was dropped (the writer then just lets the buffer go).
 *  - Inbound bytes arrive through `onData` in order. A message-oriented transport (WebSocket)
 *    delivers one message per call; byte-stream users must not rely on boundaries.
 *  - `pause()` stops `onData` until `resume()` (it pauses the socket, so the peer's TCP window
 *    closes: this is the only flow control SPDY-to-spdystream has).
 *  - `onClose` fires exactly once: `null` after a clean close (ours or the peer's), or a coded
 *    error. `close()` is graceful, `destroy(error)` immediate.
 *  - `attach` is called once, before any other method; no event fires before it.
 *  - `headroom`, when offered, is how many bytes the transport may write in front of a payload.
 *    A writer that keeps that many spare bytes in front of `bytes` in the same ArrayBuffer says
 *    so with `write(bytes, release, headroom)`: the transport may then put its own header there
 *    and send header and payload as one buffer, instead of a gather write that the TLS layer
 *    copies into one buffer anyway (Node's TLS write copies every write of several buffers).
 *    The spare bytes are the transport's until `release`.
 *  - `progressBytes`, when offered, only grows: bytes received plus bytes handed to the kernel.
 *    Keepalive uses it as proof of life while a pong waits behind buffered data.
 */

import type { TunnelError } from "./tunnel-error.ts";

export interface TransportSink {
  onData(bytes: Buffer): void;
  onDrain(): void;
  onClose(error: TunnelError | null): void;
}

export interface ByteTransport {
  attach(sink: TransportSink): void;
  write(bytes: Buffer, release?: () => void, spareBefore?: number): boolean;
  pause(): void;
  resume(): void;
  close(): void;
  destroy(error: TunnelError): void;
  readonly progressBytes?: number;
  readonly headroom?: number;
}
