// What `kubectl get pf` shows in its Connections column follows connections that stay open: the
// gateway's entry (status.gateways[].activeConnections) and the controller's totals count a
// connection once it is open, not only when some connection closes, and go back to 0 when the
// connections end. (Counter-only changes are written at the counter pace, at most every 5 s.)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { connectTo, echoOn, gatewayPortOf, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

test("status counts the connections that are open, in the gateway's entry and in the totals, and 0 once they close", async (t) => {
  const namespace = await testNamespace(t, "e2e-conns");
  const echo = await startEchoServer(t);
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const endpoint = { host: host!, port: gatewayPortOf(await portForwards.ready("web"), 80) };

  const open: Socket[] = [];
  t.after(() => {
    for (const socket of open) socket.destroy();
  });
  for (let i = 0; i < 3; i++) {
    const socket = await connectTo(endpoint);
    open.push(socket);
    const payload = randomBytes(1024);
    assert.ok((await echoOn(socket, payload)).equals(payload), "each held connection carries bytes");
  }
  const counts = async () => {
    const pf = await portForwards.get("web");
    return { gateway: pf?.status?.gateways?.[0]?.activeConnections, totals: pf?.status?.totals?.activeConnections };
  };
  assert.deepEqual(
    await waitFor("3 open connections in status", async () => {
      const now = await counts();
      return now.gateway === 3 && now.totals === 3 ? now : undefined;
    }),
    { gateway: 3, totals: 3 },
  );

  for (const socket of open) socket.destroy();
  assert.deepEqual(
    await waitFor("no open connection in status", async () => {
      const now = await counts();
      return now.gateway === 0 && now.totals === 0 ? now : undefined;
    }),
    { gateway: 0, totals: 0 },
  );
});
