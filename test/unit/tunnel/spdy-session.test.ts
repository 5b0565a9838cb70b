import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { PortForwardConnection } from "../../../src/tunnel/port-forward-connection.ts";
import type { SpdyFrame } from "../../../src/tunnel/spdy-frame.ts";
import { SpdySession } from "../../../src/tunnel/spdy-session.ts";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { createTransportPair, type MemoryTransport } from "../../support/duplex-pair.ts";
import { type ServerBehaviour, TestSpdyServer } from "./spdy-test-server.ts";

interface Harness {
  session: SpdySession;
  server: TestSpdyServer;
  clientTransport: MemoryTransport;
  serverTransport: MemoryTransport;
  pongs: number[];
  closes: Array<TunnelError | null>;
  connect(port: number): PortForwardConnection;
}

function setup(behaviour: ServerBehaviour = {}, highWaterBytes = 256 * 1024): Harness {
  const [clientTransport, serverTransport] = createTransportPair(highWaterBytes);
  const server = new TestSpdyServer(serverTransport, behaviour);
  const pongs: number[] = [];
  const closes: Array<TunnelError | null> = [];
  const session = new SpdySession(clientTransport, {
    defer: setImmediate,
    onPong: (id) => pongs.push(id),
    onClose: (error) => closes.push(error),
  });
  session.start();
  let requestId = 0;
  const connect = (port: number): PortForwardConnection => new PortForwardConnection({ session, port, requestId: String(requestId++) });
  return { session, server, clientTransport, serverTransport, pongs, closes, connect };
}

async function readAll(connection: PortForwardConnection): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of connection) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof TunnelError && error.code === code;
}

describe("SpdySession with PortForwardConnection", () => {
  it("carries many concurrent connections with every byte verified", async () => {
    const { connect, server, session } = setup();
    const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 3001));
    const results = await Promise.all(
      payloads.map((payload, i) => {
        const connection = connect(8000 + (i % 3));
        const echoed = readAll(connection);
        connection.end(payload);
        return echoed;
      }),
    );
    for (const [i, result] of results.entries()) assert.ok(result.equals(payloads[i]!), `connection ${i}`);
    await until(() => session.activeStreams === 0, "all streams closed");
    assert.equal(server.pairs.size, 40);
  });

  it("writes SYN_STREAMs with increasing odd ids, error stream first, with the exact headers", async () => {
    const { connect, server } = setup();
    const first = connect(8080);
    const second = connect(9090);
    await Promise.all([readAll(first), readAll(second), first.end(), second.end()]);
    const syns = server.frames.filter((f): f is Extract<SpdyFrame, { kind: "synStream" }> => f.kind === "synStream");
    assert.deepEqual(
      syns.map((f) => [f.streamId, Object.fromEntries(f.headers)]),
      [
        [1, { streamtype: "error", port: "8080", requestid: "0" }],
        [3, { streamtype: "data", port: "8080", requestid: "0" }],
        [5, { streamtype: "error", port: "9090", requestid: "1" }],
        [7, { streamtype: "data", port: "9090", requestid: "1" }],
      ],
    );
  });

  it("half-closes the error stream with an empty DATA+FIN only after its SYN_REPLY", async () => {
    const { connect, server, session } = setup();
    const connection = connect(80);
    connection.resume();
    await until(() => server.frames.some((f) => f.kind === "data" && f.streamId === 1), "error stream FIN");
    const finFrame = server.frames.find((f) => f.kind === "data" && f.streamId === 1);
    assert.deepEqual(finFrame, { kind: "data", streamId: 1, flags: 1, data: Buffer.alloc(0) });
    connection.destroy();
    await until(() => session.activeStreams === 0, "streams released");
  });

  it("coalesces the frames of one event-loop turn into one transport write", async () => {
    const { connect, clientTransport } = setup({ onPair: () => {} });
    const before = clientTransport.written.length;
    for (let i = 0; i < 10; i++) connect(80).resume();
    await until(() => clientTransport.written.length > before, "a write");
    assert.equal(clientTransport.written.length - before, 1, "20 SYN_STREAMs in one write");
  });

  it("fails only the connection whose error stream carries text, then RST (runtime ≥ 1.32)", async () => {
    const text = 'failed to connect to localhost:81 inside namespace "x": connection refused';
    const { connect, session, closes } = setup({
      onPair: (pair, server) => {
        if (pair.port === 81) server.failPair(pair, text);
      },
    });
    const bad = connect(81);
    const good = connect(80);
    const goodEcho = readAll(good);
    good.end(Buffer.from("still works"));
    await assert.rejects(readAll(bad), (error: unknown) => {
      assert.ok(error instanceof TunnelError);
      assert.equal(error.code, "PF_ERR_PORT_FORWARD");
      assert.ok(error.message.includes(text));
      return true;
    });
    assert.equal((await goodEcho).toString(), "still works");
    const third = connect(80);
    const thirdEcho = readAll(third);
    third.end(Buffer.from("and new ones too"));
    assert.equal((await thirdEcho).toString(), "and new ones too");
    assert.equal(session.state.kind, "open");
    assert.deepEqual(closes, []);
  });

  it("fails a connection whose error stream carries text and then FIN (older runtimes)", async () => {
    const { connect } = setup({
      onPair: (pair, server) => {
        server.sendData(pair.errorStreamId!, Buffer.from("sandbox is not running"), true);
        server.sendData(pair.dataStreamId!, Buffer.alloc(0), true);
      },
    });
    await assert.rejects(readAll(connect(80)), isCode("PF_ERR_PORT_FORWARD"));
  });

  it("reports a bare RST of the data stream as PF_ERR_STREAM_RESET and leaves others working", async () => {
    const { connect } = setup({
      onPair: (pair, server) => {
        if (pair.port === 1) server.send({ kind: "rstStream", streamId: pair.dataStreamId!, status: 5 });
      },
    });
    const reset = connect(1);
    const other = connect(2);
    const otherEcho = readAll(other);
    other.end(Buffer.from("ok"));
    await assert.rejects(readAll(reset), isCode("PF_ERR_STREAM_RESET"));
    assert.equal((await otherEcho).toString(), "ok");
  });

  it("sends RST_STREAM CANCEL for open streams when a connection is destroyed locally", async () => {
    const { connect, server, session } = setup({ onPair: () => {} });
    const connection = connect(80);
    connection.resume();
    await until(() => server.pairs.size === 1, "pair");
    connection.destroy();
    await until(() => server.frames.filter((f) => f.kind === "rstStream").length === 2, "two RSTs");
    assert.equal(session.activeStreams, 0);
  });

  it("supports half-close: data keeps flowing to us after our FIN", async () => {
    const { connect, server } = setup({
      onData: (pair, _data, fin, srv) => {
        if (!fin) return;
        srv.sendData(pair.dataStreamId!, Buffer.from("late reply"));
        srv.finishPair(pair);
      },
    });
    const connection = connect(80);
    const reply = readAll(connection);
    connection.end(Buffer.from("request"));
    assert.equal((await reply).toString(), "late reply");
    const pair = [...server.pairs.values()][0]!;
    assert.equal(Buffer.concat(pair.received).toString(), "request");
    assert.equal(pair.clientFin, true);
  });

  it("ends the readable side on the server FIN while our side stays writable", async () => {
    const { connect, server } = setup({
      onPair: (pair, srv) => srv.sendData(pair.dataStreamId!, Buffer.from("bye"), true),
      onData: () => {},
    });
    const connection = connect(80);
    assert.equal((await readAll(connection)).toString(), "bye");
    connection.write(Buffer.from("after remote fin"));
    await until(() => [...server.pairs.values()][0]!.received.length > 0, "data after remote FIN");
    connection.end();
  });

  it("echoes server PINGs unchanged and reports answers to its own PINGs", async () => {
    const { server, session, pongs } = setup();
    server.send({ kind: "ping", id: 2 });
    const first = session.ping();
    const second = session.ping();
    assert.deepEqual([first, second], [1, 3]);
    await until(() => pongs.length === 2, "pongs");
    assert.deepEqual(pongs, [1, 3]);
    await until(() => server.frames.some((f) => f.kind === "ping" && f.id === 2), "ping echo");
  });

  it("pauses the transport while a consumer is stalled, and resumes when it reads", async () => {
    const big = randomBytes(3 * 1024 * 1024);
    const { connect, clientTransport, session } = setup(
      {
        onPair: (pair, srv) => {
          for (let offset = 0; offset < big.length; offset += 32 * 1024) {
            srv.sendData(pair.dataStreamId!, big.subarray(offset, offset + 32 * 1024));
          }
          srv.finishPair(pair);
        },
        onData: () => {},
      },
      64 * 1024,
    );
    const stalled = connect(1);
    await until(() => clientTransport.paused, "transport paused");
    assert.equal(session.readingPaused, true);
    // Inbound pieces reach the readable buffer one deferred flush after the transport paused.
    await until(() => stalled.readableLength >= 1024 * 1024, "readable buffer filled");
    const stalledBuffered = stalled.readableLength;
    // The connection's readable high-water mark (1 MiB) is reached before the transport pauses.
    assert.ok(stalledBuffered >= 1024 * 1024 && stalledBuffered < big.length, `${stalledBuffered}`);
    const received = readAll(stalled);
    assert.ok((await received).equals(big));
    assert.equal(clientTransport.paused, false);
    stalled.end();
  });

  it("holds stream write callbacks while the transport is congested (transport → stream backpressure)", async () => {
    const { connect, serverTransport, session } = setup({ onData: () => {} }, 32 * 1024);
    const connection = connect(80);
    serverTransport.pause();
    let accepted = 0;
    const chunk = randomBytes(16 * 1024);
    while (connection.write(chunk)) accepted += chunk.length;
    await until(() => connection.writableNeedDrain && connection.writableLength > 0, "writable backs up");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stuck = connection.writableLength;
    assert.ok(stuck > 0);
    serverTransport.resume();
    await once(connection, "drain");
    assert.ok(session.bytesOut >= accepted);
    connection.destroy();
  });

  it("closes every connection with PF_ERR_TUNNEL_CLOSED on a SPDY protocol error, coded", async () => {
    const { connect, serverTransport, closes, session } = setup({ onPair: () => {} });
    const connection = connect(80);
    connection.resume();
    await until(() => session.activeStreams === 2, "streams");
    serverTransport.write(Buffer.from("8003000500000000", "hex"));
    const [error] = (await once(connection, "error")) as [TunnelError];
    assert.equal(error.code, "PF_ERR_TUNNEL_CLOSED");
    assert.equal((error.cause as TunnelError).code, "PF_ERR_SPDY_PROTOCOL");
    assert.equal(closes[0]?.code, "PF_ERR_SPDY_PROTOCOL");
    assert.equal(session.state.kind, "closed");
  });

  it("refuses new streams after GOAWAY but lets existing connections finish", async () => {
    const { connect, server, session } = setup({ onData: () => {} });
    const existing = connect(80);
    const reply = readAll(existing);
    await until(() => server.pairs.size === 1, "pair");
    server.send({ kind: "goAway", lastGoodStreamId: 3, status: 0 });
    await until(() => session.state.kind === "goingAway", "goingAway");
    const refused = connect(80);
    await assert.rejects(readAll(refused), isCode("PF_ERR_TUNNEL_CLOSED"));
    const pair = [...server.pairs.values()][0]!;
    server.sendData(pair.dataStreamId!, Buffer.from("done"), true);
    assert.equal((await reply).toString(), "done");
    existing.end();
  });

  it("refuses a server-initiated SYN_STREAM with RST_STREAM REFUSED_STREAM", async () => {
    const { server } = setup();
    server.send({ kind: "synStream", streamId: 2, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers: new Map() });
    await until(() => server.frames.some((f) => f.kind === "rstStream"), "RST");
    assert.deepEqual(
      server.frames.find((f) => f.kind === "rstStream"),
      { kind: "rstStream", streamId: 2, status: 3 },
    );
  });

  it("sends GOAWAY on close() and ends open connections with PF_ERR_TUNNEL_CLOSED", async () => {
    const { connect, server, session, closes } = setup({ onPair: () => {} });
    const connection = connect(80);
    connection.resume();
    await until(() => server.pairs.size === 1, "pair");
    const failed = once(connection, "error");
    session.close();
    const [error] = (await failed) as [TunnelError];
    assert.equal(error.code, "PF_ERR_TUNNEL_CLOSED");
    await until(() => server.frames.some((f) => f.kind === "goAway"), "GOAWAY");
    assert.deepEqual(closes, [null]);
  });
});
