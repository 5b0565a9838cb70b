// End to end: a target port that refuses connections (KWOK forwards it to a port nobody
// listens on) fails only the client connections to it: each is closed at once without a byte
// and counted as result="upstream_error", the gateway's status entry says why (lastError), and
// the listener, the tunnel and another port of the same pod keep serving.
//
// The client sees end of stream, not a reset: KWOK closes the data stream before it writes the
// error text, so the gateway has already forwarded the FIN when the error arrives, and a socket
// that has sent its FIN cannot be reset any more (libuv refuses uv_tcp_close_reset after
// shutdown; the gateway then closes it normally). A later write by the client fails.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, type Endpoint, gatewayPortOf, metricValue, startOperator, waitFor } from "../support/e2e.ts";
import { refusedPort, startEchoServer } from "../support/tcp-servers.ts";

/**
 * One client connection to the refused port, from a client that keeps its own side open after
 * the gateway's FIN (allowHalfOpen) until `closeWhen` resolves, then writes once more: the write
 * must fail (EPIPE/ECONNRESET) because the gateway has closed the connection.
 */
function refusedConnection(endpoint: Endpoint, closeWhen: () => Promise<unknown>): Promise<{ ended: boolean; error: string | undefined; bytes: number; endMs: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
    let started = 0;
    let endMs = Number.NaN;
    let bytes = 0;
    let ended = false;
    let error: string | undefined;
    // Fail, never hang: a connection the gateway leaves open would otherwise block the file.
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the refused connection was not closed within 15 s (end of stream: ${ended}, ${bytes} bytes)`));
    }, 15_000);
    socket.on("connect", () => {
      started = performance.now();
      socket.write("hello?");
    });
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("end", () => {
      ended = true;
      endMs = performance.now() - started;
      closeWhen().then(
        () => socket.write("anyone?"),
        (e: unknown) => {
          socket.destroy();
          reject(e);
        },
      );
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ ended, error, bytes, endMs });
    });
  });
}

/** Connects, writes, and resolves once the connection is closed (a client that closes on FIN). */
function closingClient(endpoint: Endpoint): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const started = performance.now();
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve({ bytes, ms: performance.now() - started }));
    socket.write("hello?", (e) => e && reject(e));
  });
}

test("a refused target port closes its client connection, says why, and harms nothing else", async (t) => {
  const namespace = await testNamespace(t, "e2e-refused");
  const { cluster, gateways: [gateway], hosts: [host], portForwards } = await startOperator(t, namespace);
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, {
    namespace,
    name: "mixed-0",
    ports: [
      { podPort: 8080, host: "127.0.0.1", port: await refusedPort() },
      { podPort: 8081, host: "127.0.0.1", port: echo.port },
    ],
  });
  await portForwards.create("mixed", { target: { pod: "mixed-0" }, ports: [{ name: "down", port: 80, targetPort: 8080 }, { name: "up", port: 81, targetPort: 8081 }] });
  const pf = await portForwards.ready("mixed");
  const refused = { host: host!, port: gatewayPortOf(pf, 80) };
  const working = { host: host!, port: gatewayPortOf(pf, 81) };
  const upstreamErrors = async () =>
    metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_connections_total", { portforward: `${namespace}/mixed`, result: "upstream_error" });
  const reconnects = async () => metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");

  await assertEchoes(working);
  const reconnectsBefore = await reconnects();
  for (let round = 1; round <= 3; round += 1) {
    const ended = await refusedConnection(refused, () =>
      waitFor(`upstream_error count ${round}`, async () => ((await upstreamErrors()) >= round ? true : undefined), 10_000)).catch(async (error: Error) => {
      const counts = (await gateway!.metrics()).split("\n").filter((l) => l.startsWith("tunnelkeeper_gateway_connections")).join("; ");
      throw new Error(`${error.message}; gateway: ${counts}; last logs: ${JSON.stringify(gateway!.logs.slice(-3))}`, { cause: error });
    });
    t.diagnostic(`refused connection ${round}: end of stream after ${ended.endMs.toFixed(0)} ms, ${ended.bytes} bytes; a later write got ${ended.error}`);
    assert.equal(ended.bytes, 0, "no bytes from a refused port");
    assert.equal(ended.ended, true, "the gateway ended the connection");
    assert.ok(ended.endMs < 5_000, "at once, not after a timeout");
    assert.match(ended.error ?? "", /^(EPIPE|ECONNRESET)$/, "the gateway closed the connection, so a later write fails");
    // The listener, the tunnel and the other port are untouched.
    await assertEchoes(working);
  }
  assert.equal(await upstreamErrors(), 3);
  // A client that closes as soon as it reads end of stream is closed at once as well. Its session
  // may be counted as completed rather than upstream_error: the tunnel's connection ends its
  // readable side on the data stream's FIN without waiting for the error stream, so the
  // client's FIN can reach the gateway before the pod's error text does.
  const closing = await closingClient(refused);
  assert.equal(closing.bytes, 0);
  assert.ok(closing.ms < 5_000, `closed after ${closing.ms.toFixed(0)} ms`);
  await assertEchoes(working);
  assert.equal(await reconnects(), reconnectsBefore, "the tunnel was never redialled");
  const after = await portForwards.until("mixed", "the gateway entry to say why", (p) =>
    (p.status?.gateways ?? []).some((g) => g.pod === gateway!.podName && g.lastError !== undefined), 15_000);
  const entry = after.status?.gateways?.find((g) => g.pod === gateway!.podName);
  t.diagnostic(`status.gateways[].lastError: ${entry?.lastError}`);
  assert.match(entry?.lastError ?? "", /8080/, "lastError names the refused port");
  assert.equal(entry?.connected, true, "the gateway stays connected");
  assert.ok(after.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"), "the PortForward stays Ready");
});
