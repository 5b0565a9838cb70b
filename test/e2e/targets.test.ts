// End to end, one PortForward per target kind (pod, selector, service, workload), with the
// controller and the gateway as real processes: each reaches Ready and carries verified bytes
// through its gateway port to the backend of the pods it names (each kind has its own echo
// server, so a byte reaching the wrong pod would show).
//
// Pods are KWOK pods. The Service target's EndpointSlices come from the real
// kube-controller-manager. The Deployment's pods come from the real Deployment and ReplicaSet
// controllers (random names), so their port-forward is mapped by a KWOK ClusterPortForward that
// matches every pod of the namespace on port 9090 (the other pods use 8080 and their own
// per-pod KWOK PortForwards).
import assert from "node:assert/strict";
import { test } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { assertEchoes, gatewayPortOf, type PortForwardObject, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

test("every target kind becomes Ready and forwards verified bytes to its own pods", async (t) => {
  const namespace = await testNamespace(t, "e2e-targets");
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  const core = cluster.admin.makeApiClient(CoreV1Api);
  const through = (pf: PortForwardObject, port: number) => ({ host: host!, port: gatewayPortOf(pf, port) });

  await t.test("pod", async () => {
    const echo = await startEchoServer(t);
    await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
    await portForwards.create("pod", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
    const pf = await portForwards.ready("pod");
    await assertEchoes(through(pf, 80));
    assert.equal(echo.accepted(), 1, "the pod's backend got the connection");
  });

  await t.test("selector", async () => {
    const echo = await startEchoServer(t);
    for (const name of ["sel-a", "sel-b"]) {
      await createBackedPod(cluster.admin, {
        namespace,
        name,
        labels: { app: "sel" },
        ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }],
      });
    }
    await portForwards.create("selector", {
      target: { selector: { matchLabels: { app: "sel" } } },
      ports: [{ port: 80, targetPort: 8080 }],
    });
    const pf = await portForwards.until(
      "selector",
      "Ready=True with both pods targeted",
      (p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && (p.status?.targets?.length ?? 0) === 2,
    );
    assert.deepEqual(pf.status?.targets?.map((x) => x.pod).sort(), ["sel-a", "sel-b"]);
    for (let i = 0; i < 4; i += 1) await assertEchoes(through(pf, 80));
    assert.equal(echo.accepted(), 4);
  });

  await t.test("service (EndpointSlices from kube-controller-manager)", async () => {
    const echo = await startEchoServer(t);
    for (const name of ["db-0", "db-1"]) {
      await createBackedPod(cluster.admin, {
        namespace,
        name,
        labels: { app: "db" },
        ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port, name: "pg" }],
      });
    }
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: "db" },
        spec: { selector: { app: "db" }, ports: [{ name: "sql", port: 5432, targetPort: "pg", protocol: "TCP" }] },
      },
    });
    // targetPort names the Service port (as kubectl port-forward svc/db does); the pod port
    // comes from the EndpointSlice (named container port pg → 8080).
    await portForwards.create("service", { target: { service: "db" }, ports: [{ port: 15432, targetPort: "sql" }] });
    const pf = await portForwards.until(
      "service",
      "Ready=True with both endpoints targeted",
      (p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && (p.status?.targets?.length ?? 0) === 2,
    );
    assert.deepEqual(pf.status?.targets?.map((x) => x.pod).sort(), ["db-0", "db-1"]);
    for (let i = 0; i < 4; i += 1) await assertEchoes(through(pf, 15432));
    assert.equal(echo.accepted(), 4);
  });

  await t.test("workload (a Deployment whose pods the real controllers create)", async () => {
    const echo = await startEchoServer(t);
    const custom = cluster.admin.makeApiClient(CustomObjectsApi);
    const cpf = { group: "kwok.x-k8s.io", version: "v1alpha1", plural: "clusterportforwards" };
    await custom.createClusterCustomObject({
      ...cpf,
      body: {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "ClusterPortForward",
        metadata: { name: namespace },
        spec: {
          selector: { matchNamespaces: [namespace] },
          forwards: [{ ports: [9090], target: { address: "127.0.0.1", port: echo.port } }],
        },
      },
    });
    t.after(() => custom.deleteClusterCustomObject({ ...cpf, name: namespace }).catch(() => undefined));
    await cluster.admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "api" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "api" } },
          template: {
            metadata: { labels: { app: "api" } },
            spec: {
              nodeName: "kwok-node-0",
              tolerations: [{ operator: "Exists" }],
              containers: [{ name: "api", image: "tunnelkeeper.test/backend:1", ports: [{ name: "http", containerPort: 9090 }] }],
            },
          },
        },
      },
    });
    await portForwards.create("workload", {
      target: { workload: { kind: "Deployment", name: "api" } },
      ports: [{ port: 80, targetPort: "http" }],
    });
    const pf = await portForwards.until(
      "workload",
      "Ready=True with both Deployment pods targeted and connected",
      (p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true &&
        (p.status?.targets ?? []).filter((x) => x.ready && (x.gateways?.length ?? 0) > 0).length === 2,
      60_000,
    );
    const pods = await waitFor("the Deployment's pods", async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: "app=api" });
      return list.items.length === 2 ? list.items.map((p) => p.metadata?.name ?? "").sort() : undefined;
    });
    assert.deepEqual(pf.status?.targets?.map((x) => x.pod).sort(), pods, "the targets are the Deployment's pods");
    for (let i = 0; i < 4; i += 1) await assertEchoes(through(pf, 80));
    assert.equal(echo.accepted(), 4);
  });
});
