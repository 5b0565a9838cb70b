// End to end: gateway replicas are active-active. Two replicas (each on its own loopback
// address, different pod names) both serve the PortForward's gateway port and both report a
// status.gateways entry. SIGTERM of one withdraws its entry at once while the other keeps
// serving; SIGKILL of one (a crash) leaves its entry until the controller removes it, once the
// heartbeat Lease has expired (20 s) and the entry is older than the stale-entry grace (30 s).
// Both times are printed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, type GatewayEntry, gatewayPortOf, isReady, type PortForwardObject, startOperator } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

const entries = (pf: PortForwardObject): GatewayEntry[] => pf.status?.gateways ?? [];
const pods = (pf: PortForwardObject): string[] =>
  entries(pf)
    .map((g) => g.pod)
    .sort();

test("two gateway replicas serve and report; a stopped or crashed one drops out", async (t) => {
  const namespace = await testNamespace(t, "e2e-replicas");
  const { cluster, gateways, hosts, portForwards, addGateway } = await startOperator(t, namespace, {
    gateways: [{ podName: "gw-a" }, { podName: "gw-b" }],
  });
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  // Each replica writes its own entry; the controller lists them under targets[] on its next
  // status write, so the two can be a reconcile apart: wait for both.
  const both = await portForwards.until(
    "web",
    "Ready=True with both replicas connected and listed under the target",
    (p) => isReady(p) && entries(p).filter((g) => g.connected).length === 2 && (p.status?.targets?.[0]?.gateways?.length ?? 0) === 2,
  );
  assert.deepEqual(pods(both), ["gw-a", "gw-b"]);
  assert.deepEqual(both.status?.targets?.[0]?.gateways?.slice().sort(), ["gw-a", "gw-b"], "the target lists both replicas");
  const port = gatewayPortOf(both, 80);
  const [hostA, hostB] = [hosts[0]!, hosts[1]!];
  await assertEchoes({ host: hostA, port });
  await assertEchoes({ host: hostB, port });

  // SIGTERM: graceful withdraw of gw-a's entry; gw-b keeps serving.
  const termAt = performance.now();
  assert.equal(await gateways[0]!.stop(), 0);
  const withoutA = await portForwards.until("web", "gw-a's entry to be withdrawn", (p) => !pods(p).includes("gw-a"), 15_000);
  const withdrawMs = performance.now() - termAt;
  assert.deepEqual(pods(withoutA), ["gw-b"]);
  await assertEchoes({ host: hostB, port });
  assert.ok(isReady(await portForwards.get("web")), "still Ready with one replica");

  // SIGKILL: gw-c joins, gw-b crashes; the controller removes gw-b's entry once it is gone.
  await addGateway({ podName: "gw-c" });
  const hostC = hosts[2]!;
  await portForwards.until("web", "gw-c to report connected", (p) => entries(p).some((g) => g.pod === "gw-c" && g.connected));
  const killAt = performance.now();
  await gateways[1]!.kill();
  await assertEchoes({ host: hostC, port });
  const withoutB = await portForwards.until(
    "web",
    "the controller to remove the crashed gw-b's entry",
    (p) => !pods(p).includes("gw-b"),
    90_000,
  );
  const staleMs = performance.now() - killAt;
  assert.deepEqual(pods(withoutB), ["gw-c"]);
  assert.ok(isReady(withoutB), "Ready throughout with gw-c");
  await assertEchoes({ host: hostC, port });

  const message = `replicas: SIGTERM → entry withdrawn in ${withdrawMs.toFixed(0)} ms; SIGKILL → entry removed by the controller after ${(staleMs / 1000).toFixed(1)} s`;
  t.diagnostic(message);
  console.log(message);
});
