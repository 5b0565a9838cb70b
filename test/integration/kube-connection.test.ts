// Our own connection to the API server (kube/static-kubeconfig.ts, kube/request.ts, the watch of
// kube/list-watch.ts) against the real API server, the way the controller and the gateway run:
// the suite's client-certificate kubeconfig, and a ServiceAccount token read from a file the way
// a pod reads its projected token.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadKubeConfig } from "../../src/kube/client.ts";
import { isForbidden, isNotFound } from "../../src/kube/errors.ts";
import { kubeWatch } from "../../src/kube/list-watch.ts";
import { KubeApiError, kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { StaticKubeConfig } from "../../src/kube/static-kubeconfig.ts";
import type { KubeObject } from "../../src/runtime/store.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

describe("StaticKubeConfig against the real API server", () => {
  it("serves the suite's client-certificate kubeconfig: requests, a 404 as KubeApiError, and a watch", async (t) => {
    const namespace = await testNamespace(t, "conn");
    const { connection } = await loadKubeConfig({ kubeconfigPath: testCluster().state.kubeconfig });
    assert.ok(connection instanceof StaticKubeConfig, "a certificate kubeconfig needs no @kubernetes/client-node");
    const path = resourcePath({ apiVersion: "v1", plural: "configmaps", namespace });
    await assert.rejects(kubeRequest(connection, { method: "GET", path: `${path}/absent` }), (error: unknown) => {
      assert.ok(error instanceof KubeApiError);
      assert.equal(error.code, 404);
      assert.ok(isNotFound(error));
      return true;
    });
    const list = (await kubeRequest(connection, { method: "GET", path })) as { metadata: { resourceVersion: string } };
    const seen: { type: string; name: string | undefined; data: unknown }[] = [];
    const abort = new AbortController();
    const watching = kubeWatch<ConfigMap>(connection, { apiVersion: "v1", plural: "configmaps", namespace })(
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 60 },
      (type, object) => {
        seen.push({ type, name: object.metadata?.name, data: (object as ConfigMap).data });
        if (type === "DELETED") abort.abort();
      },
      abort.signal,
    );
    const body = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "one" },
      data: { text: "é, 日本, and a long line ".repeat(2_000) },
    };
    await kubeRequest(connection, { method: "POST", path, body });
    await kubeRequest(connection, { method: "PUT", path: `${path}/one`, body: { ...body, data: { text: "two" } } });
    await kubeRequest(connection, { method: "DELETE", path: `${path}/one` });
    await watching;
    assert.deepEqual(
      seen.filter((event) => event.type !== "BOOKMARK"),
      [
        { type: "ADDED", name: "one", data: body.data },
        { type: "MODIFIED", name: "one", data: { text: "two" } },
        { type: "DELETED", name: "one", data: { text: "two" } },
      ],
    );
  });

  it("authenticates with a token file, as a pod's service account does, and is refused what RBAC does not grant", async (t) => {
    const namespace = await testNamespace(t, "conn-token");
    const { connection: admin } = await loadKubeConfig({ kubeconfigPath: testCluster().state.kubeconfig });
    const accounts = resourcePath({ apiVersion: "v1", plural: "serviceaccounts", namespace });
    await kubeRequest(admin, { method: "POST", path: accounts, body: { metadata: { name: "reader" } } });
    await kubeRequest(admin, {
      method: "POST",
      path: resourcePath({ apiVersion: "rbac.authorization.k8s.io/v1", plural: "rolebindings", namespace }),
      body: {
        metadata: { name: "reader-view" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
      },
    });
    const issued = (await kubeRequest(admin, {
      method: "POST",
      path: `${accounts}/reader/token`,
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
    })) as { status: { token: string } };
    const dir = mkdtempSync(join(tmpdir(), "tk-conn-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "token"), issued.status.token);
    writeFileSync(join(dir, "ca.crt"), Buffer.from(suiteCaData(), "base64"));
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: admin.getCurrentCluster()?.server, "certificate-authority": "ca.crt" } }],
      users: [{ name: "reader", user: { tokenFile: "token" } }],
      contexts: [{ name: "reader", context: { cluster: "c", user: "reader", namespace } }],
      "current-context": "reader",
    };
    writeFileSync(join(dir, "kubeconfig"), JSON.stringify(kubeconfig));
    const loaded = await loadKubeConfig({ kubeconfigPath: join(dir, "kubeconfig") });
    assert.ok(loaded.connection instanceof StaticKubeConfig);
    assert.equal(loaded.namespace, namespace);
    const configMaps = resourcePath({ apiVersion: "v1", plural: "configmaps", namespace });
    const listed = (await kubeRequest(loaded.connection, { method: "GET", path: configMaps })) as { kind: string };
    assert.equal(listed.kind, "ConfigMapList");
    await assert.rejects(kubeRequest(loaded.connection, { method: "POST", path: configMaps, body: { metadata: { name: "x" } } }), (error) =>
      isForbidden(error),
    );
  });
});

/** The suite's CA, base64, as its admin kubeconfig carries it. */
function suiteCaData(): string {
  const admin = JSON.parse(readFileSync(testCluster().state.kubeconfig, "utf8")) as {
    clusters: { cluster: { "certificate-authority-data": string } }[];
  };
  return admin.clusters[0]?.cluster["certificate-authority-data"] ?? "";
}
