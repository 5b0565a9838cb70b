// End to end: the tunnel budget. Three gateway replicas, --gateways-per-portforward 2 (the
// default): each PortForward names two of them in status.assignedGateways, only those keep
// tunnels (so the API server holds PortForwards × 2 tunnels, not × 3) and report status entries.
// The third replica stands by: a connection that reaches it anyway is served through a tunnel
// opened for it (the cold-connect time is printed), which closes once idle. When an assigned
// replica stops, the controller assigns the one standing by and the PortForward stays Ready.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, gatewayPortOf, isReady, metricValue, type PortForwardObject, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

const COUNT = 6;
const IDLE = ["--idle-tunnel-timeout", "3s"];

const assignedOf = (pf: PortForwardObject): string[] => (pf.status as { assignedGateways?: string[] } | undefined)?.assignedGateways ?? [];
const reporting = (pf: PortForwardObject): string[] => (pf.status?.gateways ?? []).map((g) => g.pod).sort();

test("each PortForward is served by two of three gateway replicas; the third stands by and serves on demand", async (t) => {
  const namespace = await testNamespace(t, "e2e-budget");
  const replicas = ["gw-a", "gw-b", "gw-c"];
  const { cluster, gateways, hosts, portForwards } = await startOperator(t, namespace, {
    gateways: replicas.map((podName) => ({ podName, args: IDLE })),
  });
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  const names = Array.from({ length: COUNT }, (_, i) => `web-${i}`);
  for (const name of names) await portForwards.create(name, { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });

  const settled = new Map<string, PortForwardObject>();
  for (const name of names) {
    settled.set(
      name,
      await portForwards.until(name, "Ready with its two assigned replicas, and only those, reporting connected", (p) => {
        const assigned = assignedOf(p);
        const connected = (p.status?.gateways ?? []).filter((g) => g.connected).map((g) => g.pod);
        return isReady(p) && assigned.length === 2 && JSON.stringify(reporting(p)) === JSON.stringify(assigned) && connected.length === 2;
      }),
    );
  }
  const tunnels = async () => {
    const texts = await Promise.all(gateways.map((g) => g.metrics()));
    return texts.map((text) => metricValue(text, "tunnelkeeper_gateway_tunnels_up"));
  };
  const total = await waitFor("PortForwards × 2 tunnels in all", async () => {
    const counts = await tunnels();
    return counts.reduce((a, b) => a + b, 0) === COUNT * 2 ? counts : undefined;
  });
  const dials = await Promise.all(
    gateways.map(async (g) => metricValue(await g.metrics(), "tunnelkeeper_gateway_dial_duration_seconds_count")),
  );
  assert.equal(
    dials.reduce((a, b) => a + b, 0),
    COUNT * 2,
    "no replica dialled a PortForward it was not assigned, not even before the controller's first reconcile",
  );
  const standbyCounts = await Promise.all(
    gateways.map(async (g) => metricValue(await g.metrics(), "tunnelkeeper_gateway_portforwards", { role: "standby" })),
  );
  assert.equal(
    standbyCounts.reduce((a, b) => a + b, 0),
    COUNT,
    "each PortForward has one replica standing by",
  );
  console.log(
    `# budget: ${COUNT} PortForwards on 3 replicas hold ${COUNT * 2} tunnels (per replica ${total.join(", ")}), not ${COUNT * 3}`,
  );

  // A connection that reaches the replica standing by is served through a tunnel opened for it.
  const pf = settled.get("web-0")!;
  const standby = replicas.find((r) => !assignedOf(pf).includes(r))!;
  const index = replicas.indexOf(standby);
  const port = gatewayPortOf(pf, 80);
  const coldStart = performance.now();
  await assertEchoes({ host: hosts[index]!, port }, 1024);
  const coldMs = performance.now() - coldStart;
  const warmStart = performance.now();
  await assertEchoes({ host: hosts[index]!, port }, 1024);
  const warmMs = performance.now() - warmStart;
  console.log(
    `# budget: first connection through a standing-by replica ${coldMs.toFixed(0)} ms (tunnel opened for it), next ${warmMs.toFixed(0)} ms`,
  );
  await portForwards.until("web-0", `${standby} to report while it holds the tunnel`, (p) => reporting(p).includes(standby));
  // Idle for --idle-tunnel-timeout: the tunnel closes and the entry is withdrawn.
  await waitFor(
    `${standby}'s idle tunnel to close`,
    async () => {
      const text = await gateways[index]!.metrics();
      return metricValue(text, "tunnelkeeper_gateway_idle_tunnel_closes_total") >= 1 &&
        metricValue(text, "tunnelkeeper_gateway_tunnels_up", { portforward: `${namespace}/web-0` }) === 0
        ? true
        : undefined;
    },
    30_000,
  );
  await portForwards.until("web-0", `${standby}'s entry to be withdrawn`, (p) => !reporting(p).includes(standby));

  // An assigned replica stops: the one standing by is assigned and the PortForward stays Ready.
  const leaving = assignedOf(pf)[0]!;
  const stoppedAt = performance.now();
  assert.equal(await gateways[replicas.indexOf(leaving)]!.stop(), 0);
  const moved = await portForwards.until(
    "web-0",
    `${standby} to be assigned in place of ${leaving}, and connected`,
    (p) =>
      assignedOf(p).includes(standby) &&
      !assignedOf(p).includes(leaving) &&
      (p.status?.gateways ?? []).some((g) => g.pod === standby && g.connected),
    30_000,
  );
  const movedMs = performance.now() - stoppedAt;
  assert.ok(isReady(moved), "Ready throughout");
  await assertEchoes({ host: hosts[index]!, port });
  console.log(`# budget: ${leaving} stopped → ${standby} assigned and connected after ${movedMs.toFixed(0)} ms`);
});
