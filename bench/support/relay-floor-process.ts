/**
 * The two processes of `bench/relay-floor.ts`, one per role (argv[2]); each prints its port.
 *
 * - `source CERT KEY RATE`: a TLS server that, like `startSource` in backends.ts, reads a byte
 *   count line and sends that many bytes (64 KiB writes, which TLS cuts into 16 KiB records, the
 *   record size the API server's port-forward stream arrives in). RATE > 0 paces it to RATE
 *   MiB/s with a 1 ms timer, so the relay can be measured at the rate a tunnel actually reached.
 * - `relay SOURCE_PORT`: a TCP listener whose connections each get a TLS connection to the source
 *   and `pipe` both ways: what a forwarder has to do at least, without any port-forward framing.
 */
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from "node:tls";

const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

function sendPaced(socket: TLSSocket, bytes: number, bytesPerSecond: number): void {
  const started = performance.now();
  let sent = 0;
  const pump = (): void => {
    while (sent < bytes) {
      if (bytesPerSecond > 0 && sent >= (bytesPerSecond * (performance.now() - started)) / 1000) {
        setTimeout(pump, 1);
        return;
      }
      const piece = Math.min(CHUNK.length, bytes - sent);
      sent += piece;
      if (!socket.write(piece === CHUNK.length ? CHUNK : CHUNK.subarray(0, piece))) {
        socket.once("drain", pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}

function source(certFile: string, keyFile: string, mibPerSecond: number): Server {
  return createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) => {
    socket.on("error", () => socket.destroy());
    let line = "";
    const onData = (chunk: Buffer): void => {
      line += chunk.toString("latin1");
      const end = line.indexOf("\n");
      if (end < 0) return;
      socket.off("data", onData);
      sendPaced(socket, Number(line.slice(0, end)), mibPerSecond * 1024 * 1024);
    };
    socket.on("data", onData);
  });
}

function relay(sourcePort: number): Server {
  return createTcpServer({ noDelay: true }, (client) => {
    const upstream = connectTls({ host: "127.0.0.1", port: sourcePort, rejectUnauthorized: false });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}

const [role, ...args] = process.argv.slice(2);
const server = role === "source" ? source(args[0]!, args[1]!, Number(args[2])) : relay(Number(args[0]));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`);
});
process.on("SIGTERM", () => process.exit(0));
