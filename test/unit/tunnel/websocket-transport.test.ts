import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { rootCertificates } from "node:tls";
import { KubeConfig } from "@kubernetes/client-node";
import { type WebSocket, WebSocketServer } from "ws";
import type { TransportSink } from "../../../src/tunnel/byte-transport.ts";
import { systemClock } from "../../../src/tunnel/clock.ts";
import type { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import {
  acceptKeyFor,
  type DialedWebSocket,
  dialWebSocket,
  maskKeysFor,
  secureContextFor,
  upgradeProblem,
} from "../../../src/tunnel/websocket-dialer.ts";
import { WebSocketTransport, type WebSocketTransportOptions } from "../../../src/tunnel/websocket-transport.ts";

const PROTOCOL = "v4.channel.k8s.io";
const target = { namespace: "ns", pod: "p", protocol: PROTOCOL };

interface Peer {
  /** The server side of each accepted connection, in order. */
  readonly peers: WebSocket[];
  /** Every byte the server read from each connection (after the HTTP request). */
  readonly wire: Buffer[][];
  readonly url: string;
  readonly next: () => Promise<WebSocket>;
}

/** A ws server (an independent implementation) on 127.0.0.1; closed after the test. */
async function startPeer(t: TestContext): Promise<Peer> {
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const peers: WebSocket[] = [];
  const wire: Buffer[][] = [];
  const waiting: ((peer: WebSocket) => void)[] = [];
  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const bytes: Buffer[] = [head];
    wire.push(bytes);
    // A copy: ws unmasks what it reads in place.
    socket.prependListener("data", (chunk: Buffer) => bytes.push(Buffer.from(chunk)));
    wss.handleUpgrade(request, socket, head, (peer) => {
      peers.push(peer);
      waiting.shift()?.(peer);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const peer of peers) peer.terminate();
    server.closeAllConnections();
    server.close();
  });
  // Call before dialing: resolves with the next connection the server accepts.
  const next = (): Promise<WebSocket> => new Promise((resolve) => waiting.push(resolve));
  return { peers, wire, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, next };
}

function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kubeConfig;
}

interface Recorder extends TransportSink {
  readonly data: Buffer[];
  readonly closed: Promise<TunnelError | null>;
  drains: number;
}

function recorder(): Recorder {
  let resolveClosed: (error: TunnelError | null) => void = () => {};
  const sink: Recorder = {
    data: [],
    drains: 0,
    closed: new Promise((resolve) => {
      resolveClosed = resolve;
    }),
    onData: (bytes) => sink.data.push(Buffer.from(bytes)),
    onDrain: () => {
      sink.drains++;
    },
    onClose: (error) => resolveClosed(error),
  };
  return sink;
}

async function connect(
  t: TestContext,
  options: Partial<WebSocketTransportOptions> = {},
): Promise<{ peer: WebSocket; transport: WebSocketTransport; sink: Recorder; dialed: DialedWebSocket; server: Peer }> {
  const server = await startPeer(t);
  const accepted = server.next();
  const dialed = await dialWebSocket({ kubeConfig: kubeConfigFor(server.url), namespace: "ns", pod: "p", subprotocol: PROTOCOL });
  t.after(() => dialed.socket.destroy());
  const peer = await accepted;
  const transport = new WebSocketTransport(dialed.socket, {
    clock: systemClock,
    nextMaskKey: dialed.nextMaskKey,
    headBytes: dialed.headBytes,
    ...options,
  });
  const sink = recorder();
  transport.attach(sink);
  return { peer, transport, sink, dialed, server };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe("websocket-dialer: the upgrade", () => {
  it("derives Sec-WebSocket-Accept as RFC 6455 §1.3's example does", () => {
    assert.equal(acceptKeyFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("accepts only a 101 that echoes our key, our subprotocol and no extension", () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const good = { upgrade: "websocket", "sec-websocket-accept": acceptKeyFor(key), "sec-websocket-protocol": PROTOCOL };
    assert.equal(upgradeProblem(good, key, PROTOCOL, target), null);
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...good, upgrade: "h2c" }, /Upgrade header is "h2c"/],
      [{ ...good, "sec-websocket-accept": "wrong" }, /Sec-WebSocket-Accept does not match/],
      [{ ...good, "sec-websocket-extensions": "permessage-deflate" }, /extension we did not offer/],
      [{ ...good, "sec-websocket-protocol": "v5.channel.k8s.io" }, /answered subprotocol "v5.channel.k8s.io" instead of/],
    ];
    for (const [headers, pattern] of cases) {
      const problem = upgradeProblem(headers, key, PROTOCOL, target);
      assert.equal(problem?.code, "PF_ERR_UPGRADE_FAILED");
      assert.match(problem.message, pattern);
    }
  });

  it("builds one TLS context per set of credentials, by content, and none for other TLS settings", () => {
    const ca = Buffer.from(rootCertificates[0]!);
    const first = secureContextFor({ ca });
    assert.ok(first !== undefined);
    assert.equal(secureContextFor({ ca: Buffer.from(ca) }), first, "the same CA read again reuses the context");
    assert.notEqual(secureContextFor({ ca: Buffer.from(rootCertificates[1]!) }), first, "a rotated CA gets a new one");
    assert.equal(secureContextFor({ ca, ciphers: "HIGH" }), undefined);
  });

  it("masks with the all-zero key over wss:// and with a fresh random key per frame over ws://", () => {
    const secure = maskKeysFor(new URL("wss://api.example:6443/api"));
    assert.deepEqual([...secure()], [0, 0, 0, 0]);
    const plain = maskKeysFor(new URL("ws://127.0.0.1:8080/api"));
    const keys = new Set(Array.from({ length: 16 }, () => plain().toString("hex")));
    assert.ok(keys.size > 1, "random keys differ");
  });

  it("sends the upgrade with key, version, subprotocol and credentials, and hands over a paused socket", async (t) => {
    const server = createServer();
    const requests: IncomingMessage[] = [];
    server.on("upgrade", (request: IncomingMessage, socket: Socket) => {
      requests.push(request);
      const accept = acceptKeyFor(String(request.headers["sec-websocket-key"]));
      // The 101 and the first frame in one write: the frame arrives as the upgrade's head bytes.
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
          `Sec-WebSocket-Protocol: ${PROTOCOL}\r\n\r\n`,
      );
      socket.write(Buffer.from([0x82, 0x03, 0x00, 0x50, 0x00]));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dialed = await dialWebSocket({ kubeConfig: kubeConfigFor(url), namespace: "ns", pod: "p", subprotocol: PROTOCOL, ports: [80] });
    t.after(() => dialed.socket.destroy());
    const request = requests[0]!;
    assert.equal(request.url, "/api/v1/namespaces/ns/pods/p/portforward?ports=80");
    assert.equal(request.headers.upgrade, "websocket");
    assert.equal(request.headers["sec-websocket-version"], "13");
    assert.equal(Buffer.from(String(request.headers["sec-websocket-key"]), "base64").length, 16);
    assert.equal(request.headers["sec-websocket-protocol"], PROTOCOL);
    assert.equal(request.headers["sec-websocket-extensions"], undefined);
    assert.equal(request.headers.authorization, "Bearer t");
    assert.equal(dialed.socket.isPaused(), true);
    const transport = new WebSocketTransport(dialed.socket, {
      clock: systemClock,
      nextMaskKey: dialed.nextMaskKey,
      headBytes: dialed.headBytes,
      delivery: "message",
    });
    const sink = recorder();
    transport.attach(sink);
    await until(() => sink.data.length === 1);
    assert.deepEqual([...sink.data[0]!], [0x00, 0x50, 0x00]);
  });
});

describe("WebSocketTransport against ws (an independent implementation)", () => {
  it("carries binary messages both ways, byte for byte and in order, with random keys over ws://", async (t) => {
    const { peer, transport, sink, server } = await connect(t, { delivery: "message" });
    const payloads = [randomBytes(1), randomBytes(125), randomBytes(126), randomBytes(65_535), randomBytes(65_536), randomBytes(1 << 20)];
    const copies = payloads.map((p) => Buffer.from(p));
    const received: Buffer[] = [];
    peer.on("message", (data) => {
      received.push(data as Buffer);
      peer.send(data as Buffer, { binary: true });
    });
    for (const payload of payloads) transport.write(payload);
    await until(() => sink.data.length === payloads.length);
    assert.deepEqual(
      received.map((r) => r.toString("hex")),
      copies.map((c) => c.toString("hex")),
    );
    assert.deepEqual(
      sink.data.map((r) => r.toString("hex")),
      copies.map((c) => c.toString("hex")),
    );
    // The caller's buffers were not masked in place.
    assert.ok(payloads.every((p, i) => p.equals(copies[i]!)));
    // First frame on the wire: FIN|binary, MASK + length 1, a key, the masked byte.
    const wire = Buffer.concat(server.wire[0]!);
    assert.equal(wire[0], 0x82);
    assert.equal(wire[1], 0x81);
    assert.equal(wire[6], copies[0]![0]! ^ wire[2]!);
  });

  it("with the zero key the frame keeps the MASK bit and the payload goes out as it is", async (t) => {
    const { peer, transport, server } = await connect(t, { nextMaskKey: () => Buffer.alloc(4) });
    const received: Buffer[] = [];
    peer.on("message", (data) => received.push(data as Buffer));
    const payload = randomBytes(200);
    transport.write(payload);
    await until(() => received.length === 1);
    assert.deepEqual(received[0], payload);
    const wire = Buffer.concat(server.wire[0]!);
    assert.deepEqual([...wire.subarray(0, 8)], [0x82, 0xfe, 0, 200, 0, 0, 0, 0]);
    assert.deepEqual(wire.subarray(8, 208), payload);
  });

  it("with headroom the header is written in front of the payload and both leave as one buffer", async (t) => {
    const { peer, transport, dialed } = await connect(t, { nextMaskKey: () => Buffer.alloc(4) });
    const received: Buffer[] = [];
    peer.on("message", (data) => received.push(data as Buffer));
    const written: Buffer[] = [];
    const write = dialed.socket.write.bind(dialed.socket) as (...args: unknown[]) => boolean;
    (dialed.socket as { write: (...args: unknown[]) => boolean }).write = (chunk: unknown, ...rest: unknown[]) => {
      written.push(chunk as Buffer);
      return write(chunk, ...rest);
    };
    const headroom = transport.headroom;
    for (const size of [100, 70_000]) {
      const buffer = Buffer.alloc(headroom + size, 0xee);
      const payload = buffer.subarray(headroom);
      randomBytes(size).copy(payload);
      const sent = Buffer.from(payload);
      let released = false;
      transport.write(payload, () => (released = true), headroom);
      await until(() => received.length > 0 && released);
      assert.deepEqual(received.shift(), sent);
      const frame = written.shift()!;
      assert.equal(frame.buffer, buffer.buffer, "the frame is the payload's own buffer");
      assert.equal(frame.byteOffset + frame.length, buffer.byteOffset + buffer.length);
      assert.equal(frame.length, size + (size < 126 ? 6 : size < 0x10000 ? 8 : 14));
    }
    assert.equal(written.length, 0, "one socket write per frame");
  });

  it("stream delivery hands every piece on as it arrives; the pieces join to the messages", async (t) => {
    const { peer, sink } = await connect(t, { delivery: "stream" });
    const payloads = [randomBytes(70_000), randomBytes(3), randomBytes(200_000)];
    for (const payload of payloads) peer.send(payload, { binary: true });
    const total = payloads.reduce((n, p) => n + p.length, 0);
    await until(() => sink.data.reduce((n, d) => n + d.length, 0) === total);
    assert.deepEqual(Buffer.concat(sink.data), Buffer.concat(payloads));
  });

  it("answers the server's ping with a pong of the same payload", async (t) => {
    const { peer } = await connect(t);
    const pong = once(peer, "pong");
    peer.ping(Buffer.from("are you there"));
    const [payload] = (await pong) as [Buffer];
    assert.equal(payload.toString(), "are you there");
  });

  it("a close with 1000 from the server is clean, and we echo it", async (t) => {
    const { peer, sink } = await connect(t);
    const closed = once(peer, "close");
    peer.close(1000, "done");
    assert.equal(await sink.closed, null);
    const [code] = (await closed) as [number];
    assert.equal(code, 1000);
  });

  it("any other close code is PF_ERR_NETWORK with the code and reason", async (t) => {
    const { peer, sink } = await connect(t);
    peer.close(4001, "gone away");
    const error = await sink.closed;
    assert.equal(error?.code, "PF_ERR_NETWORK");
    assert.match(error.message, /code 4001 gone away/);
  });

  it("a connection that drops without a close frame is PF_ERR_NETWORK", async (t) => {
    const { peer, sink } = await connect(t);
    peer.terminate();
    const error = await sink.closed;
    assert.equal(error?.code, "PF_ERR_NETWORK");
    assert.match(error.message, /without a close frame/);
  });

  it("a text message is fatal: PF_ERR_WS_PROTOCOL", async (t) => {
    const { peer, sink } = await connect(t);
    peer.send("text", { binary: false });
    const error = await sink.closed;
    assert.equal(error?.code, "PF_ERR_WS_PROTOCOL");
  });

  it("close() sends close 1000 and the server sees a clean close", async (t) => {
    const { peer, transport, sink } = await connect(t);
    const closed = once(peer, "close");
    transport.close();
    assert.equal(await sink.closed, null);
    const [code] = (await closed) as [number];
    assert.equal(code, 1000);
    assert.equal(transport.write(Buffer.from("late")), false);
  });

  it("write reports backpressure above the high-water mark and onDrain follows", async (t) => {
    const { peer, transport, sink } = await connect(t, { highWaterBytes: 64 * 1024 });
    peer.pause();
    let accepted = true;
    let written = 0;
    while (accepted && written < 64 << 20) {
      accepted = transport.write(Buffer.alloc(16 * 1024));
      written += 16 * 1024;
    }
    assert.equal(accepted, false, "the socket's buffer filled");
    assert.equal(sink.drains, 0);
    peer.resume();
    await until(() => sink.drains === 1);
  });

  it("pause() stops onData until resume()", async (t) => {
    const { peer, transport, sink } = await connect(t, { delivery: "message" });
    transport.pause();
    peer.send(Buffer.from("held"), { binary: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sink.data.length, 0);
    transport.resume();
    await until(() => sink.data.length === 1);
    assert.equal(sink.data[0]!.toString(), "held");
  });
});
