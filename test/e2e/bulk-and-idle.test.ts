// End to end, long-lived traffic through one gateway: a client connection left idle for two
// minutes is still usable (the tunnel's keepalive keeps every hop open), and 256 MiB streamed
// through an echo arrive intact (SHA-256 of what was sent and of what came back), while the idle
// connection stays open beside it.
//
// This file takes about two minutes on purpose; the runner overlaps it with other files (its name
// sorts first among the e2e files, so it starts early). Restarts of control-plane components,
// which would cut its connection, run only in `.serial.` files or under the exclusive
// control-plane lock (test/support/e2e.ts).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { connectTo, echoOn, gatewayPortOf, metricValue, startOperator, streamThroughEcho } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

const IDLE_MS = 120_000;
const BULK_BYTES = 256 * 1024 * 1024;

test("an idle connection survives two minutes and 256 MiB arrive intact", async (t) => {
  const namespace = await testNamespace(t, "e2e-bulk-idle");
  const {
    cluster,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const pf = await portForwards.ready("web");
  const endpoint = { host: host!, port: gatewayPortOf(pf, 80) };

  const idle = await connectTo(endpoint);
  let idleClosed = false;
  idle.on("close", () => {
    idleClosed = true;
  });
  const hello = randomBytes(1024);
  assert.ok((await echoOn(idle, hello)).equals(hello));
  const idleSince = performance.now();
  const reconnectsBefore = metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");

  const bulk = await streamThroughEcho(endpoint, BULK_BYTES, 90_000);
  const mibps = BULK_BYTES / 1024 / 1024 / bulk.seconds;
  t.diagnostic(`256 MiB echoed in ${bulk.seconds.toFixed(1)} s (${mibps.toFixed(0)} MiB/s each way)`);
  assert.equal(bulk.bytes, BULK_BYTES);
  assert.equal(bulk.receivedSha256, bulk.sentSha256, "SHA-256 of the echo equals SHA-256 of what was sent");

  await sleep(Math.max(0, IDLE_MS - (performance.now() - idleSince)));
  assert.equal(idleClosed, false, "the idle connection is still open");
  const after = randomBytes(64 * 1024);
  assert.ok(
    (await echoOn(idle, after, 10_000)).equals(after),
    `usable after ${((performance.now() - idleSince) / 1000).toFixed(0)} s idle`,
  );
  idle.destroy();
  assert.equal(
    metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total"),
    reconnectsBefore,
    "the tunnel never had to be redialled",
  );
  assert.equal(echo.accepted(), 2, "two connections reached the pod: the idle one and the bulk one");
});
