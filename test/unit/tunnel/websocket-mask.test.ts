import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { maskKeyFor } from "../../../src/tunnel/websocket-dialer.ts";

describe("WebSocket masking (websocket-dialer maskKeyFor)", () => {
  it("uses the all-zero key over wss:// and ws's random keys over plaintext ws://", () => {
    const generate = maskKeyFor(new URL("wss://api.example:6443/api"));
    assert.equal(typeof generate, "function");
    const mask = Buffer.from([1, 2, 3, 4]);
    generate!(mask);
    assert.deepEqual([...mask], [0, 0, 0, 0]);
    assert.equal(maskKeyFor(new URL("ws://127.0.0.1:8080/api")), undefined);
  });

  it("frames with the zero key still carry the MASK bit (servers require it) and arrive byte for byte", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    t.after(() => server.close());
    await once(server, "listening");
    const received: Buffer[] = [];
    const rawHeaders: Buffer[] = [];
    server.on("connection", (peer, request) => {
      request.socket.prependListener("data", (chunk: Buffer) => rawHeaders.push(chunk));
      peer.on("message", (data) => received.push(data as Buffer));
    });
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { generateMask: maskKeyFor(new URL("wss://x")) });
    t.after(() => client.terminate());
    await once(client, "open");
    const payloads = [randomBytes(1), randomBytes(200), randomBytes(70_000), randomBytes(1024 * 1024)];
    const copies = payloads.map((p) => Buffer.from(p));
    for (const payload of payloads) client.send(payload, { binary: true });
    while (received.length < payloads.length) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(
      received.map((r) => r.toString("hex")),
      copies.map((c) => c.toString("hex")),
    );
    // The sender's buffers were not masked in place (the key is zero, so ws skips masking).
    assert.ok(payloads.every((p, i) => p.equals(copies[i]!)));
    // First frame on the wire: FIN|binary, MASK bit + length 1, key 00 00 00 00, payload as is.
    const wire = Buffer.concat(rawHeaders);
    assert.deepEqual([...wire.subarray(0, 7)], [0x82, 0x81, 0, 0, 0, 0, copies[0]![0]]);
  });
});
