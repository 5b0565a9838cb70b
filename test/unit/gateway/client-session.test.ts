// Component tests of the client session with a real TCP connection on 127.0.0.1 and an
// in-memory duplex standing in for the forwarded connection.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { spliceConnection } from "../../../src/gateway/client-session.ts";

/** A forwarded connection: `toPod` receives what the session writes, `fromPod` feeds its readable side. */
function fakeUpstream() {
  const toPod = new PassThrough();
  const fromPod = new PassThrough();
  const upstream = Duplex.from({ readable: fromPod, writable: toPod });
  return { upstream, toPod, fromPod };
}

async function socketPair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const listener = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const address = listener.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const accepted = once(listener, "connection") as Promise<[Socket]>;
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  const [server] = await accepted;
  return { client, server, close: () => listener.close() };
}

describe("spliceConnection", () => {
  it("carries bytes both ways", async () => {
    const { client, server, close } = await socketPair();
    const { upstream, toPod, fromPod } = fakeUpstream();
    const outcome = spliceConnection(server, upstream, { halfCloseGraceMs: 100 });
    client.write("ping");
    const [up] = (await once(toPod, "data")) as [Buffer];
    assert.equal(up.toString(), "ping");
    fromPod.write("pong");
    const [down] = (await once(client, "data")) as [Buffer];
    assert.equal(down.toString(), "pong");
    client.destroy();
    assert.equal((await outcome).kind, "completed");
    close();
  });

  it("ends the session after the grace period when the pod side ended and the client keeps its side open", async () => {
    const { client, server, close } = await socketPair();
    const { upstream, fromPod } = fakeUpstream();
    const outcome = spliceConnection(server, upstream, { halfCloseGraceMs: 100 });
    client.resume();
    fromPod.end("bye");
    await once(client, "end");
    const started = Date.now();
    assert.equal((await outcome).kind, "completed");
    assert.ok(Date.now() - started < 2_000);
    client.destroy();
    close();
  });

  it("ends the session after the grace period when the client half-closed and the pod never ends", async () => {
    const { client, server, close } = await socketPair();
    const { upstream, toPod } = fakeUpstream();
    const outcome = spliceConnection(server, upstream, { halfCloseGraceMs: 100 });
    const podSawEnd = once(toPod, "end");
    toPod.resume();
    client.end("last words");
    await podSawEnd;
    assert.equal((await outcome).kind, "completed");
    client.destroy();
    close();
  });

  it("holds a writer that is not read (backpressure both ways), then delivers every byte in order", async () => {
    const { client, server, close } = await socketPair();
    const { upstream, toPod, fromPod } = fakeUpstream();
    const outcome = spliceConnection(server, upstream, { halfCloseGraceMs: 100 });
    const upload = randomBytes(8 * 1024 * 1024);
    const download = randomBytes(8 * 1024 * 1024);
    client.pause();
    client.write(upload);
    // In DATA-frame-sized pieces, as a tunnel delivers them.
    for (let offset = 0; offset < download.length; offset += 64 * 1024) fromPod.write(download.subarray(offset, offset + 64 * 1024));
    // Nobody reads either end: the session must stop reading from both sides, not buffer 16 MiB.
    for (let i = 0; i < 50 && !(server.isPaused() && upstream.isPaused()); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(server.isPaused(), "the client side is still read while the pod side does not drain");
    assert.ok(upstream.isPaused(), "the pod side is still read while the client does not drain");
    assert.ok(toPod.readableLength < 1024 * 1024, `${toPod.readableLength} bytes buffered toward the pod`);
    assert.ok(server.writableLength < 1024 * 1024, `${server.writableLength} bytes buffered toward the client`);

    const collect = (stream: NodeJS.ReadableStream, bytes: number) =>
      new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        let received = 0;
        stream.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          if (received >= bytes) resolve(Buffer.concat(chunks));
        });
        stream.resume();
      });
    const [atPod, atClient] = await Promise.all([collect(toPod, upload.length), collect(client, download.length)]);
    assert.ok(atPod.equals(upload), "the upload arrived changed");
    assert.ok(atClient.equals(download), "the download arrived changed");
    client.destroy();
    assert.equal((await outcome).kind, "completed");
    close();
  });

  it("resets the client when the forwarded connection fails", async () => {
    const { client, server, close } = await socketPair();
    const { upstream } = fakeUpstream();
    const outcome = spliceConnection(server, upstream, { halfCloseGraceMs: 100 });
    const clientError = once(client, "error");
    upstream.destroy(new Error("connection refused at the pod"));
    const result = await outcome;
    assert.equal(result.kind, "upstream_error");
    const [error] = (await clientError) as [NodeJS.ErrnoException];
    assert.equal(error.code, "ECONNRESET");
    client.destroy();
    close();
  });
});
