// End to end: a target port that refuses connections (KWOK forwards it to a port nobody
// listens on) fails only the client connections to it: each is closed at once without a byte
// and counted as result="upstream_error", the gateway's status entry says why (lastError), and
// the listener, the tunnel and another port of the same pod keep serving.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, connectTo, type Endpoint, gatewayPortOf, metricValue, startOperator, waitFor } from "../support/e2e.ts";
import { refusedPort, startEchoServer } from "../support/tcp-servers.ts";

/** Connects, writes a little, and resolves with how the connection ended (never with data). */
async function refusedConnection(endpoint: Endpoint): Promise<{ error: string | undefined; bytes: number; ms: number }> {
  const socket = await connectTo(endpoint);
  const started = performance.now();
  let bytes = 0;
  let error: string | undefined;
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  socket.write("hello?");
  await new Promise((resolve) => socket.once("close", resolve));
  return { error, bytes, ms: performance.now() - started };
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
    const ended = await refusedConnection(refused);
    t.diagnostic(`refused connection ${round}: ${ended.error ?? "clean close"} after ${ended.ms.toFixed(0)} ms, ${ended.bytes} bytes`);
    assert.equal(ended.bytes, 0, "no bytes from a refused port");
    // Reset or end of stream, depending on whether the runtime's data-stream FIN comes before
    // its error text (KWOK closes the data stream first, so the FIN reaches the client first).
    assert.ok(ended.error === undefined || ended.error === "ECONNRESET", `closed or reset, not ${ended.error}`);
    assert.ok(ended.ms < 5_000, "closed promptly, not after a timeout");
    await waitFor(`upstream_error count ${round}`, async () => ((await upstreamErrors()) >= round ? true : undefined), 10_000);
    // The listener, the tunnel and the other port are untouched.
    await assertEchoes(working);
  }
  assert.equal(await upstreamErrors(), 3);
  assert.equal(await reconnects(), reconnectsBefore, "the tunnel was never redialled");
  const after = await portForwards.until("mixed", "the gateway entry to say why", (p) =>
    (p.status?.gateways ?? []).some((g) => g.pod === gateway!.podName && g.lastError !== undefined), 15_000);
  const entry = after.status?.gateways?.find((g) => g.pod === gateway!.podName);
  t.diagnostic(`status.gateways[].lastError: ${entry?.lastError}`);
  assert.match(entry?.lastError ?? "", /8080/, "lastError names the refused port");
  assert.equal(entry?.connected, true, "the gateway stays connected");
  assert.ok(after.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"), "the PortForward stays Ready");
});
