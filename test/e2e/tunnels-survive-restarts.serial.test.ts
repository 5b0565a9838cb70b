// End to end: the API server and then KWOK (the kubelet side of every port-forward) restart
// under a running controller and gateway. Tunnels and watches recover by themselves, without a
// restart of either process: new connections succeed after each restart, and a PortForward
// created after the API server restart still becomes Ready. Recovery times are printed.
//
// A restart cuts every tunnel in the cluster, so this is a `.serial.` file (the runner runs it
// alone, after the others) and it also holds the control plane exclusively (test/support/e2e.ts)
// in case it is run together with other e2e files.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { restartComponent, testNamespace } from "../support/cluster.ts";
import { assertEchoes, type Endpoint, gatewayPortOf, metricValue, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

/** Time until an echo through `endpoint` succeeds again (each attempt may wait in the gateway). */
async function recovery(what: string, endpoint: Endpoint, since: number): Promise<number> {
  await waitFor(
    `${what}: a new connection to succeed`,
    async () => {
      await assertEchoes(endpoint, 4096, 15_000);
      return true;
    },
    60_000,
    50,
  );
  return performance.now() - since;
}

test("tunnels and watches recover from API server and KWOK restarts without a gateway restart", async (t) => {
  const namespace = await testNamespace(t, "e2e-restarts");
  const {
    cluster,
    controller,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace, { controlPlane: "exclusive" });
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  await portForwards.create("before", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const before = { host: host!, port: gatewayPortOf(await portForwards.ready("before"), 80) };
  await assertEchoes(before);
  const pids = [controller.child.pid, gateway!.child.pid];
  const figures: string[] = [];

  // API server.
  const reconnectsAtStart = metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");
  let started = performance.now();
  await restartComponent("kube-apiserver");
  let restarted = performance.now();
  let ms = await recovery("after the API server restart", before, restarted);
  const apiReconnects = metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total") - reconnectsAtStart;
  figures.push(
    `kube-apiserver restart took ${((restarted - started) / 1000).toFixed(1)} s (${apiReconnects} tunnel redialled); first new connection ${ms.toFixed(0)} ms after it was ready`,
  );
  assert.ok(apiReconnects >= 1, "the restart cut the tunnel and the gateway redialled it");
  // A PortForward created now is seen by both processes' (re-established) watches. It targets
  // the pod that existed before the restart: a pod created right after it may not be
  // port-forwardable yet, because KWOK's own watch of its PortForward mappings is still
  // recovering ("no forward found for port 8080 in pod ..."), which is KWOK's lag, not ours.
  const createdAt = performance.now();
  await portForwards.create("after", { target: { pod: "web-0" }, ports: [{ port: 81, targetPort: 8080 }] });
  const after = { host: host!, port: gatewayPortOf(await portForwards.ready("after", 60_000), 81) };
  figures.push(`PortForward created after the restart Ready in ${(performance.now() - createdAt).toFixed(0)} ms`);
  const accepted = echo.accepted();
  await assertEchoes(after);
  assert.equal(echo.accepted(), accepted + 1);

  // KWOK (every pod's port-forward endpoint).
  const reconnects = metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");
  started = performance.now();
  await restartComponent("kwok");
  restarted = performance.now();
  ms = await recovery("after the KWOK restart (before)", before, restarted);
  const ms2 = await recovery("after the KWOK restart (after)", after, restarted);
  figures.push(
    `kwok restart took ${((restarted - started) / 1000).toFixed(1)} s; first new connection ${ms.toFixed(0)} ms / ${ms2.toFixed(0)} ms (the two PortForwards) after it was ready`,
  );

  assert.deepEqual([controller.child.pid, gateway!.child.pid], pids);
  assert.equal(controller.child.exitCode, null, "the controller never exited");
  assert.equal(gateway!.child.exitCode, null, "the gateway never exited");
  const reconnectsAfter = metricValue(await gateway!.metrics(), "tunnelkeeper_gateway_reconnects_total");
  figures.push(`gateway tunnel reconnects over the KWOK restart: ${reconnectsAfter - reconnects}`);
  assert.ok(reconnectsAfter - reconnects >= 1, "the KWOK restart cut the tunnel and the gateway redialled it");
  // Status is still maintained: both PortForwards Ready, this gateway connected.
  for (const name of ["before", "after"]) {
    await portForwards.until(
      name,
      "Ready=True with the gateway connected",
      (p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true &&
        (p.status?.gateways ?? []).some((g) => g.pod === gateway!.podName && g.connected),
      30_000,
    );
  }
  for (const line of figures) {
    t.diagnostic(line);
    console.log(`restarts: ${line}`);
  }
});
