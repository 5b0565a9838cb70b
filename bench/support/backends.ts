/**
 * Benchmark backends on 127.0.0.1, standing in for the pod's server:
 * - echo: writes back what it reads;
 * - source: reads a decimal byte count and a newline, then sends that many bytes (a repeating
 *   pattern) as fast as the connection takes them, with backpressure;
 * - sink: reads a decimal byte count and a newline, then counts that many bytes and answers one
 *   byte (`k`) once they have all arrived (so an upload is timed to its last byte at the pod).
 * Neither closes first: port-forward runtimes differ in how they carry a close (KWOK does not
 * carry a half-close at all), so clients count bytes and close themselves.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";

const CHUNK = Buffer.alloc(256 * 1024, "tunnelkeeper-bench-");

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

export async function startEcho(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  return { port: await listen(server), server };
}

/**
 * One source connection: reads a decimal byte count and a newline, then sends that many bytes
 * with backpressure. `bytesPerSecond` > 0 paces it: before each chunk, while ahead of the rate,
 * it waits on a 1 ms timer (`bench/relay-floor.ts` measures a relay at a tunnel's rate that way).
 */
export function serveSourceConnection(socket: Duplex, bytesPerSecond = 0): void {
  socket.on("error", () => socket.destroy());
  let header = "";
  const onData = (chunk: Buffer) => {
    header += chunk.toString("latin1");
    const newline = header.indexOf("\n");
    if (newline < 0) return;
    socket.off("data", onData);
    let remaining = Number(header.slice(0, newline));
    const total = remaining;
    const started = performance.now();
    const pump = () => {
      while (remaining > 0) {
        if (bytesPerSecond > 0 && total - remaining >= (bytesPerSecond * (performance.now() - started)) / 1000) {
          setTimeout(pump, 1);
          return;
        }
        const piece = remaining >= CHUNK.length ? CHUNK : CHUNK.subarray(0, remaining);
        remaining -= piece.length;
        if (!socket.write(piece)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    pump();
  };
  socket.on("data", onData);
}

export async function startSource(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => serveSourceConnection(socket));
  return { port: await listen(server), server };
}

export async function startSink(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => {
    socket.on("error", () => socket.destroy());
    let header = "";
    let remaining = Number.NaN; // bytes still to come; NaN until the header line is complete
    socket.on("data", (chunk: Buffer) => {
      let payload = chunk.length;
      if (Number.isNaN(remaining)) {
        const newline = chunk.indexOf(10);
        if (newline < 0) {
          header += chunk.toString("latin1");
          return;
        }
        header += chunk.toString("latin1", 0, newline);
        remaining = Number(header);
        payload = chunk.length - newline - 1;
      }
      const before = remaining;
      remaining -= payload;
      if (before > 0 && remaining <= 0) socket.write("k");
    });
  });
  return { port: await listen(server), server };
}

/**
 * An echo backend that keeps track of its accepted sockets. `closeConnections()` destroys
 * every one still open and says how many there were: KWOK's forwarder keeps its connection to
 * the backend after the client resets the stream (it waits for both copy directions, and an
 * echo backend never ends first), so a benchmark that must not count those calls it.
 */
export async function startClosableEcho(): Promise<{ port: number; server: Server; closeConnections(): number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  const closeConnections = (): number => {
    const open = sockets.size;
    for (const socket of sockets) socket.destroy();
    return open;
  };
  return { port: await listen(server), server, closeConnections };
}
