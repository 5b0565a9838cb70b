// Component tests of the client session with a real TCP connection on 127.0.0.1 and an
// in-memory duplex standing in for the forwarded connection.
import assert from "node:assert/strict";
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
