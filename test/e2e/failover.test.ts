// End to end: the target pod of a selector PortForward is deleted and replaced by a new pod
// (new name, same labels); new connections move to the replacement without any restart. The
// time from the replacement being Ready (as observed by polling the API server every 25 ms) to
// the first connection echoed by its backend is printed (DESIGN.md §9 target: < 2 s), never
// asserted beyond a generous bound.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, type Endpoint, echoThrough, gatewayPortOf, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

function podReady(pod: V1Pod): boolean {
  return pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

test("a replaced target pod gets new connections within seconds, with no restart", async (t) => {
  const namespace = await testNamespace(t, "e2e-failover");
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const core = cluster.admin.makeApiClient(CoreV1Api);
  const oldBackend = await startEchoServer(t);
  const newBackend = await startEchoServer(t);
  await createBackedPod(cluster.admin, {
    namespace,
    name: "app-old",
    labels: { app: "fo" },
    ports: [{ podPort: 8080, host: "127.0.0.1", port: oldBackend.port }],
  });
  await portForwards.create("fo", { target: { selector: { matchLabels: { app: "fo" } } }, ports: [{ port: 80, targetPort: 8080 }] });
  const pf = await portForwards.ready("fo");
  const endpoint: Endpoint = { host: host!, port: gatewayPortOf(pf, 80) };
  await assertEchoes(endpoint);
  assert.equal(oldBackend.accepted(), 1);

  // Probe continuously: one connection at a time, each waiting for its echo (the gateway holds a
  // new connection up to 10 s while no tunnel to a ready pod is open).
  let firstNewAt: number | undefined;
  let probes = 0;
  let failures = 0;
  let stop = false;
  const prober = (async () => {
    while (!stop && firstNewAt === undefined) {
      probes += 1;
      const before = newBackend.accepted();
      try {
        await echoThrough(endpoint, randomBytes(64), 15_000);
        if (newBackend.accepted() > before) firstNewAt = performance.now();
      } catch {
        failures += 1;
        await sleep(10);
      }
    }
  })();

  const deletedAt = performance.now();
  await core.deleteNamespacedPod({ namespace, name: "app-old" });
  await createBackedPod(cluster.admin, {
    namespace,
    name: "app-new",
    labels: { app: "fo" },
    ports: [{ podPort: 8080, host: "127.0.0.1", port: newBackend.port }],
    waitReady: false,
  });
  const readyAt = await waitFor(
    "the replacement pod to be Ready",
    async () => (podReady(await core.readNamespacedPod({ namespace, name: "app-new" })) ? performance.now() : undefined),
    60_000,
    25,
  );
  await waitFor("a connection echoed by the replacement", async () => firstNewAt, 30_000, 10);
  stop = true;
  await prober;

  const failoverMs = firstNewAt! - readyAt;
  const message = `failover: replacement Ready ${(readyAt - deletedAt).toFixed(0)} ms after the delete; first connection through it ${failoverMs.toFixed(0)} ms after Ready (${probes} probes, ${failures} failed)`;
  t.diagnostic(message);
  console.log(message);
  // Usually well under 100 ms. A run over ~10 s means a probe waited out the gateway's whole
  // connect wait: that was the waiting connection spinning on a terminating pod's open tunnel
  // and starving the gateway's event loop (fixed in the forwarder; see forwarder.test.ts).
  assert.ok(failoverMs < 10_000, `first connection through the replacement ${failoverMs.toFixed(0)} ms after it was Ready`);

  // New connections keep succeeding, all through the replacement.
  const before = newBackend.accepted();
  for (let i = 0; i < 5; i += 1) await assertEchoes(endpoint);
  assert.equal(newBackend.accepted() - before, 5);
  const after = await portForwards.until(
    "fo",
    "status to target only the replacement",
    (p) => p.status?.targets?.length === 1 && p.status.targets[0]?.pod === "app-new",
  );
  assert.ok(after.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
});
