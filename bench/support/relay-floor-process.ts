/**
 * The two processes of `bench/relay-floor.ts`, one per role (argv[2]); each prints its port.
 *
 * - `source CERT KEY RATE`: the benchmark's source connection (`serveSourceConnection` of
 *   backends.ts) over TLS, which cuts its writes into 16 KiB records, the record size the API
 *   server's port-forward stream arrives in. RATE > 0 (MiB/s) paces it, so the relay can be
 *   measured at the rate a tunnel actually reached.
 * - `relay SOURCE_PORT`: a TCP listener whose connections each get a TLS connection to the source
 *   and `pipe` both ways: what a forwarder has to do at least, without any port-forward framing.
 */
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { connect as connectTls, createServer as createTlsServer } from "node:tls";
import { serveSourceConnection } from "./backends.ts";

function source(certFile: string, keyFile: string, mibPerSecond: number): Server {
  return createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (socket) =>
    serveSourceConnection(socket, mibPerSecond * 1024 * 1024),
  );
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
