/**
 * Real TCP servers on 127.0.0.1 that tests use as pod backends: an echo server, and a port
 * that refuses connections. Each closes when the test ends.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";

export interface TcpBackend {
  readonly port: number;
  readonly server: Server;
  /** Connections accepted so far. */
  readonly accepted: () => number;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

/** Echoes every byte back, with backpressure (pipe), and half-closes when the peer does. */
export async function startEchoServer(t?: TestContext): Promise<TcpBackend> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  const port = await listen(server);
  t?.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port, server, accepted: () => accepted };
}

/** A port on which nothing listens (bound, then released), so connecting is refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
