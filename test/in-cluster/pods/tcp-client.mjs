// A client that runs in a pod (node of the tunnelkeeper image) against echo backends
// (busybox `nc -ll -p PORT -e /bin/cat`). It never half-closes: a runtime ends a forwarded
// connection about a second after one direction ends, so a client that waits for its echo
// before closing measures the tunnel, not that rule. Output is JSON, one object per line.
//
//   verify HOST PORT BYTES      one connection: BYTES random bytes out, the same bytes back,
//                               SHA-256 of both printed (sent, received, equal)
//   stream HOST PORT SECONDS MS a new connection every MS ms for SECONDS: 64 bytes out and back
//                               within 5 s, one line per connection {at, ok, ms, error}
//   refused HOST PORT COUNT [WAIT_MS]  COUNT connections that are expected to be reset after the TCP
//                               handshake (an access denial): each sends 64 bytes; one line per
//                               attempt {reached, resetMs (connect() → error/close), received, error}.
//                               reached: the handshake completed (a reset, ECONNRESET, not a
//                               refusal by kube-proxy, ECONNREFUSED); unreached attempts are retried
//   get URL                     an HTTP GET; prints {status, body}
import { createHash, randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
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

function refusedOnce(host, port) {
  return new Promise((resolve) => {
    const startedAt = process.hrtime.bigint();
    let connectedAt;
    let received = 0;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      // A reset can beat the connect callback: then the handshake is inside resetMs.
      const resetMs = Number(process.hrtime.bigint() - (connectedAt ?? startedAt)) / 1e6;
      resolve({
        reached: connectedAt !== undefined || error === "ECONNRESET",
        connected: connectedAt !== undefined,
        resetMs,
        received,
        error,
      });
    };
    const timer = setTimeout(() => finish("not refused within 10 s"), 10_000);
    socket.on("connect", () => {
      connectedAt = process.hrtime.bigint();
      socket.write(randomBytes(64));
    });
    socket.on("data", (chunk) => {
      received += chunk.length;
    });
    socket.on("error", (err) => finish(err.code ?? err.message));
    socket.on("close", () => finish(received > 0 ? "closed after bytes came back" : "closed"));
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
} else if (mode === "refused") {
  const count = Number(rest[0]);
  // This pod's IP reaches the API server (and the gateway's peer cache) when the kubelet next
  // reports the pod's status, which on the loaded 2-core node took up to ~3 s after the
  // container started; the gateway gives an address it does not know yet up to 1 s before it
  // refuses it. Start after WAIT_MS (default 2 s), to measure the refusal of a known pod.
  await new Promise((r) => setTimeout(r, Number(rest[1] ?? 2000)));
  // Resolve once, so a DNS lookup is never inside resetMs.
  const { address } = await lookup(host, { family: 4 });
  for (let i = 0; i < count; i++) {
    // Until kube-proxy has programmed the Service, connect fails outright (no handshake); a
    // denial completes the handshake and is then reset, which is what this measures.
    for (let attempt = 0; attempt < 30; attempt++) {
      const result = await refusedOnce(address, port);
      console.log(JSON.stringify({ host, port, ...result }));
      if (result.reached) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
} else if (mode === "get") {
  const response = await fetch(host);
  console.log(JSON.stringify({ status: response.status, body: await response.text() }));
} else {
  console.error(`usage: tcp-client.mjs verify HOST PORT BYTES | stream HOST PORT SECONDS INTERVAL_MS | refused HOST PORT COUNT | get URL`);
  process.exit(2);
}
