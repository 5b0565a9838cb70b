/**
 * Traffic through a forwarded connection to an echo backend (a tunnel connection or a plain
 * socket, e.g. kubectl's local port), with every byte checked.
 *
 * Contract: nothing here waits for the pod side to end. KWOK's forwarder never propagates a
 * half-close to the backend (it copies both ways and waits for both), so an echo backend never
 * sees EOF and the connection would only end when someone closes it. A check therefore finishes
 * when every expected byte has arrived; the caller then `destroy()`s the connection.
 */
import { createHash, randomFillSync } from "node:crypto";
import type { Duplex } from "node:stream";

/** Writes `payload`, resolves with the echoed bytes once `payload.length` bytes came back. */
export function echoOnce(connection: Duplex, payload: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(
      () => finish(new Error(`only ${received} of ${payload.length} echoed bytes within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) finish(null);
    };
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(new Error(`the connection closed after ${received} of ${payload.length} echoed bytes`));
    function finish(error: Error | null): void {
      clearTimeout(timer);
      connection.off("data", onData);
      connection.off("error", onError);
      connection.off("close", onClose);
      if (error === null) resolve(Buffer.concat(chunks, received));
      else reject(error);
    }
    connection.on("data", onData);
    connection.on("error", onError);
    connection.on("close", onClose);
    connection.write(payload);
  });
}

export interface StreamedEcho {
  readonly bytes: number;
  readonly sentSha256: string;
  readonly receivedSha256: string;
  readonly elapsedMs: number;
  /**
   * The most bytes ever written but not yet echoed back: what every hop (our queues, TCP,
   * API server, KWOK, backend) held at once. Bounded only if `write()` backpressure works.
   */
  readonly maxInFlightBytes: number;
}

/**
 * Streams `totalBytes` of fresh random bytes into `connection` (honouring `write()`
 * backpressure, one `chunkBytes` buffer at a time) while hashing what is echoed back. Only the
 * bytes in flight are held in memory.
 */
export function streamRandomEcho(connection: Duplex, totalBytes: number, chunkBytes = 64 * 1024): Promise<StreamedEcho> {
  const started = performance.now();
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let written = 0;
  let receivedBytes = 0;
  let maxInFlight = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      received.update(chunk);
      receivedBytes += chunk.length;
      if (receivedBytes > totalBytes) finish(new Error(`received ${receivedBytes} bytes, more than the ${totalBytes} sent`));
      else if (receivedBytes === totalBytes) finish(null);
    };
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(new Error(`the connection closed after ${written} bytes written and ${receivedBytes} echoed`));
    function finish(error: Error | null): void {
      connection.off("data", onData);
      connection.off("error", onError);
      connection.off("close", onClose);
      connection.off("drain", produce);
      if (error !== null) {
        reject(error);
        return;
      }
      resolve({
        bytes: receivedBytes,
        sentSha256: sent.digest("hex"),
        receivedSha256: received.digest("hex"),
        elapsedMs: performance.now() - started,
        maxInFlightBytes: maxInFlight,
      });
    }
    function produce(): void {
      while (written < totalBytes) {
        const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(chunkBytes, totalBytes - written)));
        sent.update(chunk);
        written += chunk.length;
        maxInFlight = Math.max(maxInFlight, written - receivedBytes);
        if (!connection.write(chunk)) return; // resumed by 'drain'
      }
      connection.off("drain", produce);
    }
    connection.on("data", onData);
    connection.on("error", onError);
    connection.on("close", onClose);
    connection.on("drain", produce);
    produce();
  });
}

/** Resolves with the first 'error' of `connection`; rejects if it closes cleanly or times out. */
export function connectionError(connection: Duplex, timeoutMs = 15_000): Promise<Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection error within ${timeoutMs} ms`)), timeoutMs);
    connection.once("error", (error: Error) => {
      clearTimeout(timer);
      resolve(error);
    });
    connection.once("close", () => {
      // 'error' is emitted before 'close'; a close without it is a clean end.
      setImmediate(() => {
        clearTimeout(timer);
        reject(new Error("the connection closed without an error"));
      });
    });
    connection.resume();
  });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${timeoutMs} ms${last === undefined ? "" : `; last error: ${String(last)}`}`, {
        cause: last,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
