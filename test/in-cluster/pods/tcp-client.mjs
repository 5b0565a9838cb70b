// A client that runs in a pod (node of the tunnelkeeper image) against echo backends
// (busybox `nc -ll -p PORT -e /bin/cat`). It never half-closes: a runtime ends a forwarded
// connection about a second after one direction ends, so a client that waits for its echo
// before closing measures the tunnel, not that rule. Output is JSON, one object per line.
//
//   verify HOST PORT BYTES      one connection: BYTES random bytes out, the same bytes back,
//                               SHA-256 of both printed (sent, received, equal)
//   stream HOST PORT SECONDS MS a new connection every MS ms for SECONDS: 64 bytes out and back
//                               within 5 s, one line per connection {at, ok, ms, error}
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";

function roundTrip(host, port, payload, timeoutMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const received = createHash("sha256");
    let count = 0;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms: Date.now() - started, received: count, sha: received.digest("hex"), error });
    };
    const timer = setTimeout(() => finish(`timeout after ${timeoutMs} ms with ${count} of ${payload.length} bytes back`), timeoutMs);
    socket.on("connect", () => {
      // write in 1 MiB pieces, honouring backpressure
      let offset = 0;
      const pump = () => {
        while (offset < payload.length) {
          const piece = payload.subarray(offset, offset + 1024 * 1024);
          offset += piece.length;
          if (!socket.write(piece)) return socket.once("drain", pump);
        }
      };
      pump();
    });
    socket.on("data", (chunk) => {
      received.update(chunk);
      count += chunk.length;
      if (count >= payload.length) finish(count === payload.length ? undefined : `got ${count} bytes, sent ${payload.length}`);
    });
    socket.on("error", (err) => finish(err.code ?? err.message));
    socket.on("close", () => finish(count === payload.length ? undefined : `closed after ${count} of ${payload.length} bytes`));
  });
}

const [mode, host, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
if (mode === "verify") {
  const payload = randomBytes(Number(rest[0]));
  const sent = createHash("sha256").update(payload).digest("hex");
  // the Service may be a second old: kube-proxy programs it about a second after its endpoints
  let result;
  for (let attempt = 0; attempt < 30; attempt++) {
    result = await roundTrip(host, port, payload, 120_000);
    if (!result.error || result.received > 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(
    JSON.stringify({
      host,
      port,
      bytes: payload.length,
      sent,
      received: result.sha,
      equal: sent === result.sha,
      ms: result.ms,
      error: result.error,
    }),
  );
  process.exit(sent === result.sha ? 0 : 1);
} else if (mode === "stream") {
  const [seconds, intervalMs] = rest.map(Number);
  const until = Date.now() + seconds * 1000;
  const pending = [];
  while (Date.now() < until) {
    const at = Date.now();
    pending.push(
      roundTrip(host, port, randomBytes(64), 5_000).then((r) =>
        console.log(JSON.stringify({ at, ok: !r.error, ms: r.ms, error: r.error })),
      ),
    );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await Promise.all(pending);
} else {
  console.error(`usage: tcp-client.mjs verify HOST PORT BYTES | stream HOST PORT SECONDS INTERVAL_MS`);
  process.exit(2);
}
