// Smoke tests of the suite's own control plane: the API server serves, KWOK pods are reachable
// through pods/portforward over both protocols kubectl speaks, and RBAC is really enforced.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { httpsGet } from "../cluster/probes.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { startKubectlPortForward } from "../support/kubectl-port-forward.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= payload.length) {
        socket.end();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on("error", reject);
    socket.write(payload);
  });
}

test("the API server answers /readyz for the admin", async () => {
  const { state } = testCluster();
  const dir = state.workDir;
  const response = await httpsGet(`${state.server}/readyz`, {
    ca: `${dir}/ca.crt`,
    cert: `${dir}/client-admin.crt`,
    key: `${dir}/client-admin.key`,
  });
  assert.equal(response.status, 200);
  assert.equal(response.body, "ok");
});

for (const websockets of [true, false]) {
  const protocol = websockets ? "the WebSocket tunnel" : "SPDY";
  test(`kubectl port-forward round-trips bytes to a KWOK pod over ${protocol}`, async (t) => {
    const cluster = testCluster();
    const namespace = await testNamespace(t, "smoke");
    const echo = await startEchoServer(t);
    await createBackedPod(cluster.admin, { namespace, name: "echo", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
    const forward = await startKubectlPortForward({
      kubectl: cluster.kubectl,
      kubeconfig: cluster.state.kubeconfig,
      namespace,
      resource: "pod/echo",
      remotePort: 8080,
      websockets,
    });
    t.after(() => forward.stop());
    const payload = randomBytes(256 * 1024);
    const echoed = await roundTrip(forward.localPort, payload);
    assert.ok(echoed.equals(payload), "echoed bytes differ from the bytes sent");
    assert.equal(echo.accepted(), 1);
  });
}

test("the unprivileged user is refused pods/portforward", async (t) => {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "smoke");
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "echo", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  const child = spawn(
    cluster.kubectl,
    ["--kubeconfig", cluster.state.unprivilegedKubeconfig, "port-forward", "-n", namespace, "pod/echo", ":8080"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.notEqual(code, 0);
  assert.match(output, /forbidden/i);
  assert.match(output, /User "tester" cannot get resource "pods"/);
  assert.equal(echo.accepted(), 0);
});
