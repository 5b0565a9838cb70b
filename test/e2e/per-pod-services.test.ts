// End to end, spec.service.perPod with the controller and the gateway as real processes: three
// StatefulSet-style pods (db-0..db-2, each backed by its own echo server, so a byte reaching the
// wrong pod would show) each get a Service of their own, db-0..db-2, reached through their own
// gateway ports (status.podServices); the PortForward's Service still spreads over all three.
// A deleted pod's Service and gateway port go away (new connections are refused) while the
// others keep working; turning perPod off deletes the per-pod Services.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, echoThrough, type PortForwardObject, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer, type TcpBackend } from "../support/tcp-servers.ts";

const PODS = ["db-0", "db-1", "db-2"] as const;

function podGatewayPort(pf: PortForwardObject, pod: string, port: number): number {
  const allocated = pf.status?.podServices?.find((s) => s.pod === pod)?.ports.find((p) => p.port === port)?.gatewayPort;
  if (allocated === undefined) throw new Error(`no gateway port for ${pod}:${port} in ${JSON.stringify(pf.status?.podServices)}`);
  return allocated;
}

test("perPod gives each target pod its own Service and gateway port, kept in step with the pods", async (t) => {
  const namespace = await testNamespace(t, "e2e-per-pod");
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const core = cluster.admin.makeApiClient(CoreV1Api);
  const discovery = cluster.admin.makeApiClient(DiscoveryV1Api);
  const backends = new Map<string, TcpBackend>();
  for (const pod of PODS) {
    const echo = await startEchoServer(t);
    backends.set(pod, echo);
    await createBackedPod(cluster.admin, {
      namespace,
      name: pod,
      labels: { app: "db" },
      ports: [{ podPort: 5432, host: "127.0.0.1", port: echo.port }],
    });
  }
  const accepted = () => new Map([...backends].map(([pod, b]) => [pod, b.accepted()]));

  await portForwards.create("db", {
    target: { selector: { matchLabels: { app: "db" } } },
    ports: [{ port: 5432, targetPort: 5432 }],
    service: { perPod: true },
  });
  await portForwards.ready("db");
  let pf = await portForwards.until("db", "a Service per pod in status", (p) => (p.status?.podServices?.length ?? 0) === 3);
  assert.deepEqual(
    pf.status?.podServices?.map((s) => [s.pod, s.service]),
    PODS.map((pod) => [pod, pod]),
    "StatefulSet pods db-N behind Service db get Services db-N",
  );
  const gatewayPorts = new Set([pf.status?.ports?.[0]?.gatewayPort, ...PODS.map((pod) => podGatewayPort(pf, pod, 5432))]);
  assert.equal(gatewayPorts.size, 4, "the Service and each pod have gateway ports of their own");

  await t.test("each per-pod Service targets its pod's gateway port and is owned by the PortForward", async () => {
    for (const pod of PODS) {
      const service = await core.readNamespacedService({ namespace, name: pod });
      assert.equal(service.spec?.ports?.[0]?.targetPort, podGatewayPort(pf, pod, 5432));
      assert.equal(service.metadata?.labels?.["tunnelkeeper.io/pod"], pod);
      assert.equal(service.metadata?.ownerReferences?.[0]?.uid, pf.metadata.uid);
      const slice = await discovery.readNamespacedEndpointSlice({ namespace, name: `${pod}-tunnelkeeper` });
      assert.equal(slice.metadata?.labels?.["kubernetes.io/service-name"], pod);
      assert.equal(slice.ports?.[0]?.port, podGatewayPort(pf, pod, 5432));
    }
  });

  await t.test("bytes through a pod's gateway port reach that pod's backend only", async () => {
    for (const pod of PODS) {
      const before = accepted();
      for (let i = 0; i < 3; i += 1) await assertEchoes({ host: host!, port: podGatewayPort(pf, pod, 5432) });
      const after = accepted();
      for (const other of PODS) {
        assert.equal(after.get(other)! - before.get(other)!, other === pod ? 3 : 0, `connections to ${pod}'s port reaching ${other}`);
      }
    }
  });

  await t.test("a deleted pod's Service goes away and its port refuses, the others keep working", async () => {
    const deletedPort = podGatewayPort(pf, "db-1", 5432);
    await core.deleteNamespacedPod({ namespace, name: "db-1", gracePeriodSeconds: 0 });
    pf = await portForwards.until(
      "db",
      "db-1 gone from status.podServices",
      (p) => p.status?.podServices?.map((s) => s.pod).join() === "db-0,db-2",
      60_000,
    );
    await waitFor(
      "Service db-1 to be deleted",
      async () => {
        try {
          await core.readNamespacedService({ namespace, name: "db-1" });
          return undefined;
        } catch (error) {
          return (error as { code?: number }).code === 404 ? true : undefined;
        }
      },
      30_000,
    );
    // The gateway stops listening on db-1's port: a new connection is refused (or reset), never echoed.
    await waitFor(
      "db-1's gateway port to refuse connections",
      async () => {
        try {
          await echoThrough({ host: host!, port: deletedPort }, randomBytes(16), 2_000);
          return undefined;
        } catch {
          return true;
        }
      },
      30_000,
    );
    const before = accepted();
    for (const pod of ["db-0", "db-2"]) await assertEchoes({ host: host!, port: podGatewayPort(pf, pod, 5432) });
    const after = accepted();
    assert.equal(after.get("db-0")! - before.get("db-0")!, 1);
    assert.equal(after.get("db-2")! - before.get("db-2")!, 1);
    assert.equal(after.get("db-1"), before.get("db-1"), "nothing reached the deleted pod's backend");
  });

  await t.test("perPod off deletes the per-pod Services; the PortForward's Service keeps working", async () => {
    await portForwards.patchSpec("db", { service: { perPod: false } });
    pf = await portForwards.until("db", "status.podServices gone", (p) => p.status?.podServices === undefined, 30_000);
    await waitFor(
      "the per-pod Services and EndpointSlices to be deleted",
      async () => {
        const services = await core.listNamespacedService({ namespace, labelSelector: "tunnelkeeper.io/pod" });
        const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: "tunnelkeeper.io/pod" });
        return services.items.length === 0 && slices.items.length === 0 ? true : undefined;
      },
      30_000,
    );
    const service = await core.readNamespacedService({ namespace, name: "db" });
    assert.equal(service.spec?.ports?.[0]?.targetPort, pf.status?.ports?.[0]?.gatewayPort);
    await assertEchoes({ host: host!, port: pf.status!.ports![0]!.gatewayPort });
  });
});
