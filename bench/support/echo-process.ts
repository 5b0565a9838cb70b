/**
 * An echo server in a process of its own (so the benchmark's 10,000 client sockets and the
 * backend's 10,000 accepted sockets do not share one file-descriptor limit). Prints its port.
 */
import { createServer } from "node:net";

const server = createServer((socket) => {
  socket.on("error", () => socket.destroy());
  socket.pipe(socket);
});
server.maxConnections = 50_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`);
});
process.on("SIGTERM", () => process.exit(0));
