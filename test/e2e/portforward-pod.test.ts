// End to end: a PortForward to a pod, with the controller and the gateway as real processes,
// reaches Ready and carries verified bytes through the gateway port.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { test } from "node:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd, startOperatorProcess } from "../support/operator-process.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

interface PortForwardObject {
  status?: { conditions?: { type: string; status: string; reason: string }[]; ports?: { port: number; gatewayPort: number }[] };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function echoThrough(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) {
        socket.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed after ${received} of ${payload.length} bytes`)));
    socket.write(payload);
  });
}

test("a pod PortForward becomes Ready and forwards bytes through the gateway", async (t) => {
  const cluster = testCluster();
  await installCrd(cluster);
  const namespace = await testNamespace(t, "e2e-pod");
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  const controller = await startOperatorProcess({ command: "controller", kubeconfig: cluster.state.kubeconfig }, t);
  const gateway = await startOperatorProcess({ command: "gateway", kubeconfig: cluster.state.kubeconfig }, t);
  const custom = cluster.admin.makeApiClient(CustomObjectsApi);
  const target = { group: "tunnelkeeper.io", version: "v1alpha1", namespace, plural: "portforwards" };
  await custom.createNamespacedCustomObject({
    ...target,
    body: { apiVersion: "tunnelkeeper.io/v1alpha1", kind: "PortForward", metadata: { name: "web" }, spec: { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] } },
  });
  const ready = await waitFor("Ready=True", async () => {
    const pf = (await custom.getNamespacedCustomObject({ ...target, name: "web" })) as PortForwardObject;
    return pf.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? pf : undefined;
  });
  const gatewayPort = ready.status?.ports?.[0]?.gatewayPort;
  assert.ok(gatewayPort !== undefined, "status.ports has the gateway port");
  const payload = randomBytes(1024 * 1024);
  const echoed = await echoThrough(gatewayPort, payload);
  assert.ok(echoed.equals(payload));
  // The client reset the connection after reading everything: one session, ended by the client.
  await waitFor("the session to be counted", async () =>
    /tunnelkeeper_gateway_connections_total\{portforward="[^"]+\/web",result="(completed|client_error)"\} 1/.test(await gateway.metrics()) ? true : undefined,
  );
  assert.match(await controller.metrics(), /controller_runtime_reconcile_total\{controller="portforward",result="[a-z_]+"\} \d+/);
  assert.equal(await gateway.stop(), 0, "the gateway exits 0 on SIGTERM");
  assert.equal(await controller.stop(), 0, "the controller exits 0 on SIGTERM");
});
