// End to end: a PortForward to a pod, with the controller and the gateway as real processes,
// reaches Ready and carries verified bytes through the gateway port.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { echoThrough, gatewayPortOf, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

test("a pod PortForward becomes Ready and forwards bytes through the gateway", async (t) => {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "e2e-pod");
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  const {
    controller,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const ready = await portForwards.ready("web");
  const payload = randomBytes(1024 * 1024);
  const echoed = await echoThrough({ host: host!, port: gatewayPortOf(ready, 80) }, payload);
  assert.ok(echoed.equals(payload));
  // The client reset the connection after reading everything: one session, ended by the client.
  await waitFor("the session to be counted", async () =>
    /tunnelkeeper_gateway_connections_total\{portforward="[^"]+\/web",result="(completed|client_error)"\} 1/.test(await gateway!.metrics())
      ? true
      : undefined,
  );
  assert.match(await controller.metrics(), /controller_runtime_reconcile_total\{controller="portforward",result="[a-z_]+"\} \d+/);
  assert.equal(await gateway!.stop(), 0, "the gateway exits 0 on SIGTERM");
  assert.equal(await controller.stop(), 0, "the controller exits 0 on SIGTERM");
});
