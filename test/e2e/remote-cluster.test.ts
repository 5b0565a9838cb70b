// End to end with two control planes: a PortForward in cluster A (the suite's) forwards to pods
// in cluster B (a second control plane with its own CA), reached only through B's API server with
// a ServiceAccount token of B stored in a Secret in A. Covered: verified bytes; B's pod replaced
// (failover through B's API server); B's RoleBinding removed (RemoteForbidden naming the missing
// verbs) and restored; B's ServiceAccount deleted, which revokes its token (RemoteUnauthorized),
// then the Secret rotated to a new token (recovers, without a restart); the token never appears
// in logs, Events or status. Times to notice are printed, never asserted beyond "within a minute".
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { CoreV1Api, type KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { secondCluster, testNamespace } from "../support/cluster.ts";
import { assertEchoes, condition, type Endpoint, echoThrough, gatewayPortOf, metricValue, startOperator, waitFor } from "../support/e2e.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

const SERVICE_ACCOUNT = "tunnelkeeper-remote";

/** A Role in B with exactly what docs/remote-clusters.md says a selector target needs. */
async function grantRemoteAccess(rbac: RbacAuthorizationV1Api, namespace: string): Promise<void> {
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: SERVICE_ACCOUNT },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
      ],
    },
  });
  await bindRemoteAccess(rbac, namespace);
}

async function bindRemoteAccess(rbac: RbacAuthorizationV1Api, namespace: string): Promise<void> {
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: SERVICE_ACCOUNT },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: SERVICE_ACCOUNT },
      subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }],
    },
  });
}

/** Creates B's ServiceAccount and returns a fresh token for it (TokenRequest, one hour). */
async function serviceAccountToken(core: CoreV1Api, namespace: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT } } });
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name: SERVICE_ACCOUNT,
    body: { spec: { audiences: ["https://kubernetes.default.svc"], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  assert.ok(token, "TokenRequest returned no token");
  return token;
}

function kubeconfigFor(remote: KubeConfig, token: string, namespace: string): string {
  const cluster = remote.getCurrentCluster();
  assert.ok(cluster?.caData, "cluster B's admin kubeconfig carries its CA inline");
  return [
    "apiVersion: v1",
    "kind: Config",
    "current-context: b",
    "clusters:",
    "- name: b",
    "  cluster:",
    `    server: ${cluster.server}`,
    `    certificate-authority-data: ${cluster.caData}`,
    "users:",
    "- name: tunnelkeeper",
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: b",
    `  context: {cluster: b, user: tunnelkeeper, namespace: ${namespace}}`,
    "",
  ].join("\n");
}

async function writeSecret(core: CoreV1Api, namespace: string, kubeconfig: string): Promise<void> {
  const body = { metadata: { name: "cluster-b" }, stringData: { kubeconfig } };
  try {
    await core.createNamespacedSecret({ namespace, body });
  } catch {
    await core.replaceNamespacedSecret({ namespace, name: "cluster-b", body });
  }
}

test("a PortForward in one cluster forwards to pods of another, through that cluster's API server only", async (t) => {
  const remote = await secondCluster("b");
  const namespace = await testNamespace(t, "e2e-remote");
  const farNamespace = `far-${randomBytes(3).toString("hex")}`;
  const remoteCore = remote.admin.makeApiClient(CoreV1Api);
  const remoteRbac = remote.admin.makeApiClient(RbacAuthorizationV1Api);
  await remoteCore.createNamespace({ body: { metadata: { name: farNamespace } } });
  t.after(() => remoteCore.deleteNamespace({ name: farNamespace }).catch(() => undefined));
  await grantRemoteAccess(remoteRbac, farNamespace);
  const token = await serviceAccountToken(remoteCore, farNamespace);

  const operator = await startOperator(t, namespace);
  const {
    cluster,
    hosts: [host],
    portForwards,
  } = operator;
  const core = cluster.admin.makeApiClient(CoreV1Api);
  await writeSecret(core, namespace, kubeconfigFor(remote.admin, token, farNamespace));

  const first = await startEchoServer(t);
  await createBackedPod(remote.admin, {
    namespace: farNamespace,
    name: "db-0",
    labels: { app: "db" },
    ports: [{ podPort: 5432, host: "127.0.0.1", port: first.port }],
  });
  await portForwards.create("db", {
    cluster: { kubeconfigSecretRef: { name: "cluster-b" } },
    target: { selector: { matchLabels: { app: "db" } } },
    ports: [{ port: 5432, targetPort: 5432 }],
  });
  const ready = await portForwards.ready("db", 90_000).catch(async (error: unknown) => {
    // What the operator saw, so a failure here says why instead of only "timed out".
    const status = (await portForwards.get("db"))?.status;
    const problems = [...operator.controller.logs, ...operator.gateways.flatMap((g) => g.logs)].filter(
      (l) => l.level !== "info" && l.level !== "debug",
    );
    throw new Error(`${String(error)}\nstatus: ${JSON.stringify(status)}\nwarnings: ${JSON.stringify(problems.slice(-10))}`);
  });
  const endpoint: Endpoint = { host: host!, port: gatewayPortOf(ready, 5432) };
  await assertEchoes(endpoint, 256 * 1024);
  assert.ok(first.accepted() >= 1, "the bytes went to B's pod");
  assert.equal(
    (await core.listNamespacedPod({ namespace })).items.length,
    0,
    "cluster A has no pod at all in the namespace: the target can only be B's",
  );

  await t.test("B's pod replaced: new connections reach the replacement", async () => {
    const replacement = await startEchoServer(t);
    await remoteCore.deleteNamespacedPod({ namespace: farNamespace, name: "db-0" });
    await createBackedPod(remote.admin, {
      namespace: farNamespace,
      name: "db-1",
      labels: { app: "db" },
      ports: [{ podPort: 5432, host: "127.0.0.1", port: replacement.port }],
    });
    const started = performance.now();
    await waitFor(
      "a connection echoed by B's replacement pod",
      async () => {
        const before = replacement.accepted();
        await echoThrough(endpoint, randomBytes(64), 15_000).catch(() => undefined);
        return replacement.accepted() > before ? true : undefined;
      },
      60_000,
      50,
    );
    console.log(
      `# remote failover: first connection through B's replacement ${Math.round(performance.now() - started)} ms after it was created`,
    );
  });

  await t.test("B's RoleBinding removed: RemoteForbidden names the missing verbs, and recovers when restored", async () => {
    await remoteRbac.deleteNamespacedRoleBinding({ namespace: farNamespace, name: SERVICE_ACCOUNT });
    const revokedAt = performance.now();
    const forbidden = await waitFor(
      "Ready=False with reason RemoteForbidden",
      async () => {
        const ready = condition(await portForwards.get("db"), "Ready");
        return ready?.status === "False" && ready.reason === "RemoteForbidden" ? ready : undefined;
      },
      60_000,
      250,
    );
    console.log(`# remote forbidden noticed after ${Math.round(performance.now() - revokedAt)} ms: ${forbidden.message}`);
    assert.match(forbidden.message ?? "", /create pods\/portforward/);
    assert.match(forbidden.message ?? "", /list pods/);
    await bindRemoteAccess(remoteRbac, farNamespace);
    await portForwards.ready("db", 60_000);
    await assertEchoes(endpoint);
  });

  await t.test("B's ServiceAccount deleted (token revoked): RemoteUnauthorized; a rotated Secret recovers", async () => {
    await remoteCore.deleteNamespacedServiceAccount({ namespace: farNamespace, name: SERVICE_ACCOUNT });
    const revokedAt = performance.now();
    const unauthorized = await waitFor(
      "Ready=False with reason RemoteUnauthorized",
      async () => {
        const ready = condition(await portForwards.get("db"), "Ready");
        return ready?.status === "False" && ready.reason === "RemoteUnauthorized" ? ready : undefined;
      },
      60_000,
      250,
    );
    console.log(`# remote token revocation noticed after ${Math.round(performance.now() - revokedAt)} ms: ${unauthorized.message}`);
    const rotated = await serviceAccountToken(remoteCore, farNamespace);
    await writeSecret(core, namespace, kubeconfigFor(remote.admin, rotated, farNamespace));
    const rotatedAt = performance.now();
    await portForwards.ready("db", 60_000);
    console.log(`# remote Secret rotation in use after ${Math.round(performance.now() - rotatedAt)} ms`);
    await assertEchoes(endpoint);
  });

  await t.test("metrics: the remote cluster's state by Secret, and which cluster the PortForward goes to", async () => {
    // The metric follows the remote cluster's state as the controller's next check sees it, which
    // may land just after the reconcile that wrote Ready=True: wait for it, and show it if it never comes.
    const readyLabels = { component: "controller", namespace, secret: "cluster-b", reason: "Ready" };
    let controllerMetrics = "";
    try {
      await waitFor(
        "the controller's remote cluster status metric to say Ready",
        async () => {
          controllerMetrics = await operator.controller.metrics();
          return metricValue(controllerMetrics, "tunnelkeeper_remote_cluster_status", readyLabels) === 1 ? true : undefined;
        },
        15_000,
        250,
      );
    } catch (error) {
      const lines = controllerMetrics.split("\n").filter((l) => l.startsWith("tunnelkeeper_remote_cluster_status"));
      assert.fail(`${String(error)}; the controller reports: ${lines.join(" | ") || "no tunnelkeeper_remote_cluster_status series"}`);
    }
    const gatewayMetrics = await operator.gateways[0]!.metrics();
    assert.equal(
      metricValue(gatewayMetrics, "tunnelkeeper_portforward_cluster_info", {
        component: "gateway",
        portforward: `${namespace}/db`,
        cluster: remote.state.server,
      }),
      1,
    );
  });

  await t.test("the token never appears in logs, Events or status", async () => {
    const logs = JSON.stringify([...operator.controller.logs, ...operator.gateways.flatMap((g) => g.logs)]);
    const events = JSON.stringify((await core.listNamespacedEvent({ namespace })).items);
    const status = JSON.stringify((await portForwards.get("db"))?.status);
    for (const [what, text] of [
      ["logs", logs],
      ["events", events],
      ["status", status],
    ] as const) {
      assert.ok(text.length > 2, `${what} were read`);
      assert.ok(!text.includes(token), `${what} contain the first token`);
    }
    assert.match(logs, /Connecting to remote cluster/, "the logs do record the remote cluster, by fingerprint");
  });
});
