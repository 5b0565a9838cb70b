// End to end: RoundRobin spreads new client connections over every ready target pod. Three
// KWOK pods, each backed by its own echo server, so each backend's accepted count is what the
// gateway sent to that pod.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, gatewayPortOf, isReady, startOperator } from "../support/e2e.ts";
import { startEchoServer, type TcpBackend } from "../support/tcp-servers.ts";

test("RoundRobin spreads 30 connections evenly over three pods", async (t) => {
  const namespace = await testNamespace(t, "e2e-lb");
  const {
    cluster,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const backends: TcpBackend[] = [];
  for (const name of ["lb-0", "lb-1", "lb-2"]) {
    const echo = await startEchoServer(t);
    backends.push(echo);
    await createBackedPod(cluster.admin, {
      namespace,
      name,
      labels: { app: "lb" },
      ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }],
    });
  }
  await portForwards.create("lb", {
    target: { selector: { matchLabels: { app: "lb" } } },
    ports: [{ port: 80, targetPort: 8080 }],
    loadBalancing: "RoundRobin",
  });
  // Every pod has a live tunnel from the gateway (otherwise the spread would be over fewer).
  const pf = await portForwards.until(
    "lb",
    "Ready=True with a tunnel to all three pods",
    (p) => isReady(p) && (p.status?.gateways ?? []).some((g) => g.pod === gateway!.podName && g.connectedTargets?.length === 3),
  );
  const endpoint = { host: host!, port: gatewayPortOf(pf, 80) };

  await Promise.all(Array.from({ length: 30 }, () => assertEchoes(endpoint, 4096)));

  const counts = backends.map((b) => b.accepted());
  t.diagnostic(`connections per pod (lb-0, lb-1, lb-2): ${counts.join(", ")}`);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    30,
    "every connection reached a backend once",
  );
  for (const [i, count] of counts.entries())
    assert.ok(count >= 9 && count <= 11, `lb-${i} got ${count} of 30 connections (expected about 10)`);
});
