// End to end: the Flux-style controls of a PortForward against real controller and gateway
// processes and KWOK-backed pods.
// - spec.suspend: Ready=False Suspended (neither Stalled nor Reconciling), connections to the
//   gateway port refused at once, the Service and status.ports kept; resuming serves again on
//   the same gateway port, bytes verified.
// - the reconcile-request annotation: status.lastHandledReconcileAt echoes the value (Flux's
//   annotation too), and the gateway reacts to it (its redial log line).
// - spec.includeNotReadyPods: a Running pod whose Ready condition is False is served, bytes
//   verified; without the field it is not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, connectTo, type Endpoint, echoThrough, gatewayPortOf, startOperator, waitFor } from "../support/e2e.ts";
import { condition, hasCondition } from "../support/portforwards.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

/** Why connecting to `endpoint` failed (its error code), or "connected". */
async function connectOutcome(endpoint: Endpoint): Promise<string> {
  try {
    const socket = await connectTo(endpoint);
    socket.destroy();
    return "connected";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

test("spec.suspend closes tunnels and listeners but keeps the Service and ports; resuming serves on the same port", async (t) => {
  const namespace = await testNamespace(t, "e2e-suspend");
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const backend = await startEchoServer(t);
  await createBackedPod(cluster.admin, {
    namespace,
    name: "app-0",
    labels: { app: "sr" },
    ports: [{ podPort: 8080, host: "127.0.0.1", port: backend.port }],
  });
  await portForwards.create("sr", { target: { selector: { matchLabels: { app: "sr" } } }, ports: [{ port: 80, targetPort: 8080 }] });
  const before = await portForwards.ready("sr");
  const endpoint: Endpoint = { host: host!, port: gatewayPortOf(before, 80) };
  await assertEchoes(endpoint);

  await portForwards.patchSpec("sr", { suspend: true });
  const suspended = await portForwards.until(
    "sr",
    "Ready=False Suspended, the gateway entry Suspended",
    (pf) => hasCondition(pf, "Ready", "False", "Suspended") && (pf.status?.gateways ?? []).some((g) => g.reason === "Suspended"),
  );
  assert.equal(condition(suspended, "Stalled"), undefined, "suspended is not Stalled");
  assert.equal(condition(suspended, "Reconciling"), undefined, "suspended is not Reconciling (kstatus Current)");
  assert.equal(condition(suspended, "TunnelConnected")?.reason, "Suspended");
  assert.deepEqual(suspended.status?.ports, before.status?.ports, "the gateway ports stay allocated");
  const startedAt = performance.now();
  assert.equal(await connectOutcome(endpoint), "ECONNREFUSED", "the gateway port refuses connections");
  assert.ok(performance.now() - startedAt < 2_000, "refused at once, not held");

  const core = cluster.admin.makeApiClient(CoreV1Api);
  const service = await core.readNamespacedService({ namespace, name: "sr" });
  assert.deepEqual(
    service.spec?.ports?.map((p) => [p.port, p.targetPort]),
    [[80, gatewayPortOf(before, 80)]],
    "the Service is kept, still routing to the gateway port",
  );
  const slices = await cluster.admin
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({ namespace, labelSelector: "kubernetes.io/service-name=sr" });
  assert.equal(slices.items.length, 1, "the EndpointSlice is kept");

  await portForwards.patchSpec("sr", { suspend: null });
  const resumed = await portForwards.ready("sr");
  assert.deepEqual(resumed.status?.ports, before.status?.ports, "resumed on the same gateway ports");
  // Ready again means the one gateway reports connected, which needs its listener (gateway-status.ts).
  const accepted = backend.accepted();
  await assertEchoes(endpoint);
  assert.equal(backend.accepted() - accepted, 1, "the bytes went through the backend");
});

test("a reconcile request annotation is echoed in status.lastHandledReconcileAt and reaches the gateway", async (t) => {
  const namespace = await testNamespace(t, "e2e-reconcile");
  const { cluster, gateways, portForwards } = await startOperator(t, namespace);
  const backend = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "app-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: backend.port }] });
  await portForwards.create("rq", { target: { pod: "app-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  await portForwards.ready("rq");

  await portForwards.annotate("rq", { "reconcile.fluxcd.io/requestedAt": "flux-2026-03-01T12:00:00Z" });
  await portForwards.until("rq", "Flux's request echoed", (pf) => pf.status?.lastHandledReconcileAt === "flux-2026-03-01T12:00:00Z");

  const generation = (await portForwards.get("rq"))?.metadata.generation;
  await portForwards.annotate("rq", { "tunnelkeeper.io/reconcile-requested-at": "tk-1" });
  const handled = await portForwards.until("rq", "tunnelkeeper's request echoed", (pf) => pf.status?.lastHandledReconcileAt === "tk-1");
  assert.equal(handled.metadata.generation, generation, "an annotation is no spec change");
  assert.ok(hasCondition(handled, "Ready", "True"), "still Ready: open tunnels are kept");
  await waitFor("the gateway to log the request", async () =>
    gateways[0]!.logs.some((l) => l.msg === "Reconcile requested; redialling the tunnels that are not open" && l.requestedAt === "tk-1")
      ? true
      : undefined,
  );
});

test("spec.includeNotReadyPods serves a Running pod that is not ready; without it that pod is not served", async (t) => {
  const namespace = await testNamespace(t, "e2e-notready");
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const backend = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "app-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: backend.port }] });
  // KWOK made it Running and Ready; its readiness stage acts on Pending pods only, so a Ready=False
  // written now stays, like a failing readiness probe.
  await kubeRequest(cluster.admin, {
    method: "PATCH",
    path: resourcePath({ apiVersion: "v1", plural: "pods", namespace, name: "app-0", subresource: "status" }),
    contentType: "application/strategic-merge-patch+json",
    body: { status: { conditions: [{ type: "Ready", status: "False", reason: "ReadinessProbeFailed" }] } },
  });

  await portForwards.create("nr", { target: { pod: "app-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const notServed = await portForwards.until(
    "nr",
    "Ready=False NoReadyPods with gateway ports",
    (pf) => hasCondition(pf, "Ready", "False", "NoReadyPods") && (pf.status?.ports?.length ?? 0) > 0,
  );
  const endpoint: Endpoint = { host: host!, port: gatewayPortOf(notServed, 80) };
  await assert.rejects(echoThrough(endpoint, Buffer.from("not served"), 15_000), "no tunnel to a pod that is not ready");
  assert.equal(backend.accepted(), 0);

  await portForwards.patchSpec("nr", { includeNotReadyPods: true });
  const served = await portForwards.ready("nr");
  assert.equal(served.status?.pods, "0/1 (+1 not ready)");
  assert.deepEqual(
    served.status?.targets?.map((target) => [target.pod, target.ready, target.servedNotReady]),
    [["app-0", false, true]],
  );
  assert.match(condition(served, "TargetResolved")?.message ?? "", /serving 1 pod, 1 not ready \(includeNotReadyPods\)/);
  await assertEchoes(endpoint);
  assert.equal(backend.accepted(), 1, "the bytes went through the not-ready pod's backend");
});
