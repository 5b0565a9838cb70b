/**
 * TCP backends on 127.0.0.1 that read slowly or not at all, for backpressure tests: a stalled
 * sink accepts connections and never reads; a rate-limited sink reads at most `bytesPerSecond`
 * (in 100 ms slices) and discards. Both write nothing and close when the test ends.
 */
import { createServer, type Socket } from "node:net";
import type { TestContext } from "node:test";

export interface SinkBackend {
  readonly port: number;
  /** Bytes read by the backend so far, over all connections. */
  readonly consumed: () => number;
}

const SLICE_MS = 100;

/** `bytesPerSecond` 0 never reads. */
export async function startSink(t: TestContext, bytesPerSecond: number): Promise<SinkBackend> {
  let consumed = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.pause();
    socket.on("error", () => socket.destroy());
    if (bytesPerSecond === 0) return;
    const budget = Math.max(1, Math.floor((bytesPerSecond * SLICE_MS) / 1000));
    const timer = setInterval(() => {
      let read = 0;
      while (read < budget) {
        const chunk: Buffer | null = socket.read();
        if (chunk === null) break;
        read += chunk.length;
      }
      consumed += read;
    }, SLICE_MS);
    socket.on("close", () => {
      clearInterval(timer);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  return { port: typeof address === "object" && address ? address.port : 0, consumed: () => consumed };
}
