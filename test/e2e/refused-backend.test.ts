// End to end: a target port that refuses connections (KWOK forwards it to a port nobody
// listens on) fails only the client connections to it: each is reset at once (the client sees
// ECONNRESET, not a clean end of stream — the tunnel holds the data stream's FIN until the error
// stream has said whether the forwarding failed), counted as result="upstream_error", the
// gateway's status entry says why (lastError), and the listener, the tunnel and another port of
// the same pod keep serving.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, type Endpoint, gatewayPortOf, metricValue, startOperator, waitFor } from "../support/e2e.ts";
import { refusedPort, startEchoServer } from "../support/tcp-servers.ts";

/** Connects, writes, and resolves how the connection ended: bytes read, error code, time. */
function refusedConnection(endpoint: Endpoint): Promise<{ ended: boolean; error: string | undefined; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const started = performance.now();
    let bytes = 0;
    let ended = false;
    let error: string | undefined;
    // Fail, never hang: a connection the gateway leaves open would otherwise block the file.
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the refused connection was not closed within 15 s (end of stream: ${ended}, ${bytes} bytes)`));
    }, 15_000);
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on("end", () => {
      ended = true;
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ ended, error, bytes, ms: performance.now() - started });
    });
    socket.write("hello?");
  });
}

test("a refused target port closes its client connection, says why, and harms nothing else", async (t) => {
  const namespace = await testNamespace(t, "e2e-refused");
  const {
    cluster,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, {
    namespace,
    name: "mixed-0",
    ports: [
      { podPort: 8080, host: "127.0.0.1", port: await refusedPort() },
      { podPort: 8081, host: "127.0.0.1", port: echo.port },
    ],
  });
  await portForwards.create("mixed", {
    target: { pod: "mixed-0" },
    ports: [
      { name: "down", port: 80, targetPort: 8080 },
      { name: "up", port: 81, targetPort: 8081 },
    ],
  });
  const pf = await portForwards.ready("mixed");
  const refused = { host: host!, port: gatewayPortOf(pf, 80) };
  const working = { host: host!, port: gatewayPortOf(pf, 81) };
  const upstreamErrors = async () =>
    metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_connections_total", {
      portforward: `${namespace}/mixed`,
      result: "upstream_error",
    });
  const reconnects = async () => metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");

  await assertEchoes(working);
  const reconnectsBefore = await reconnects();
  for (let round = 1; round <= 3; round += 1) {
    const ended = await refusedConnection(refused).catch(async (error: Error) => {
      const counts = (await gateway!.metrics())
        .split("\n")
        .filter((l) => l.startsWith("tunnelkeeper_gateway_connections"))
        .join("; ");
      throw new Error(`${error.message}; gateway: ${counts}; last logs: ${JSON.stringify(gateway!.logs.slice(-3))}`, { cause: error });
    });
    t.diagnostic(`refused connection ${round}: closed after ${ended.ms.toFixed(0)} ms with ${ended.error}, ${ended.bytes} bytes`);
    assert.equal(ended.bytes, 0, "no bytes from a refused port");
    assert.equal(ended.ended, false, "no clean end of stream: the failure is not disguised as success");
    assert.equal(ended.error, "ECONNRESET", "the gateway resets the client connection");
    assert.ok(ended.ms < 5_000, "at once, not after a timeout");
    await waitFor(`upstream_error count ${round}`, async () => ((await upstreamErrors()) >= round ? true : undefined), 10_000);
    // The listener, the tunnel and the other port are untouched.
    await assertEchoes(working);
  }
  assert.equal(await upstreamErrors(), 3);
  assert.equal(await reconnects(), reconnectsBefore, "the tunnel was never redialled");
  const after = await portForwards.until(
    "mixed",
    "the gateway entry to say why",
    (p) => (p.status?.gateways ?? []).some((g) => g.pod === gateway!.podName && g.lastError !== undefined),
    15_000,
  );
  const entry = after.status?.gateways?.find((g) => g.pod === gateway!.podName);
  t.diagnostic(`status.gateways[].lastError: ${entry?.lastError}`);
  assert.match(entry?.lastError ?? "", /8080/, "lastError names the refused port");
  assert.equal(entry?.connected, true, "the gateway stays connected");
  assert.ok(
    after.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    "the PortForward stays Ready",
  );
});
