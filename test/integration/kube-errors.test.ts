// Error classification (src/kube/errors.ts) of failures produced by the real API server, through
// both ways we call it: client-node's generated clients and our raw kube/request.ts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import {
  isAlreadyExists,
  isConflict,
  isForbidden,
  isInvalid,
  isNotFound,
  isTransient,
  isUnauthorized,
  reasonOf,
  statusCodeOf,
} from "../../src/kube/errors.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the API call to fail");
}

const classifiers = { isNotFound, isAlreadyExists, isConflict, isForbidden, isUnauthorized, isInvalid };

/** Asserts that exactly the named classifier (if any) matches. */
function assertOnly(error: unknown, expected: keyof typeof classifiers): void {
  for (const [name, classify] of Object.entries(classifiers)) {
    assert.equal(classify(error), name === expected, `${name}(${statusCodeOf(error)} ${reasonOf(error)})`);
  }
}

describe("errors from the real API server", () => {
  it("get of a missing object is NotFound", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "errors");
    const core = admin.makeApiClient(CoreV1Api);

    const generated = await failure(core.readNamespacedConfigMap({ name: "missing", namespace }));
    assertOnly(generated, "isNotFound");
    assert.equal(reasonOf(generated), "NotFound");
    assert.equal(isTransient(generated), false);

    const raw = await failure(
      kubeRequest(admin, { method: "GET", path: resourcePath({ apiVersion: "v1", plural: "configmaps", namespace, name: "missing" }) }),
    );
    assertOnly(raw, "isNotFound");
    assert.equal(reasonOf(raw), "NotFound");
  });

  it("a second create of the same name is AlreadyExists, not Conflict", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "errors");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "twice" } } });

    const generated = await failure(core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "twice" } } }));
    assertOnly(generated, "isAlreadyExists");
    assert.equal(statusCodeOf(generated), 409);
    assert.equal(isTransient(generated), false, "retrying a create of a taken name cannot help");

    const raw = await failure(
      kubeRequest(admin, {
        method: "POST",
        path: resourcePath({ apiVersion: "v1", plural: "configmaps", namespace }),
        body: { metadata: { name: "twice" } },
      }),
    );
    assertOnly(raw, "isAlreadyExists");
  });

  it("an update with a stale resourceVersion is Conflict (and transient)", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "errors");
    const core = admin.makeApiClient(CoreV1Api);
    const first = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "cm" }, data: { n: "1" } } });
    await core.replaceNamespacedConfigMap({ name: "cm", namespace, body: { ...first, data: { n: "2" } } });

    const stale = await failure(core.replaceNamespacedConfigMap({ name: "cm", namespace, body: { ...first, data: { n: "3" } } }));
    assertOnly(stale, "isConflict");
    assert.equal(reasonOf(stale), "Conflict");
    assert.equal(isTransient(stale), true);

    const raw = await failure(
      kubeRequest(admin, {
        method: "PUT",
        path: resourcePath({ apiVersion: "v1", plural: "configmaps", namespace, name: "cm" }),
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "cm", namespace, resourceVersion: first.metadata?.resourceVersion },
          data: { n: "4" },
        },
      }),
    );
    assertOnly(raw, "isConflict");
  });

  it("the unprivileged user listing pods is Forbidden", async (t) => {
    const { unprivileged } = testCluster();
    const namespace = await testNamespace(t, "errors");
    const generated = await failure(unprivileged.makeApiClient(CoreV1Api).listNamespacedPod({ namespace }));
    assertOnly(generated, "isForbidden");
    assert.equal(reasonOf(generated), "Forbidden");
    assert.equal(isTransient(generated), false);

    const raw = await failure(
      kubeRequest(unprivileged, { method: "GET", path: resourcePath({ apiVersion: "v1", plural: "pods", namespace }) }),
    );
    assertOnly(raw, "isForbidden");
  });

  it("an unknown bearer token is Unauthorized", async () => {
    const { state } = testCluster();
    const stranger = new KubeConfig();
    stranger.loadFromOptions({
      clusters: [{ name: "test", server: state.server, caFile: join(state.workDir, "ca.crt") }],
      users: [{ name: "stranger", token: "not-a-valid-token" }],
      contexts: [{ name: "test", cluster: "test", user: "stranger" }],
      currentContext: "test",
    });
    const generated = await failure(stranger.makeApiClient(CoreV1Api).listNamespace());
    assertOnly(generated, "isUnauthorized");
    const raw = await failure(kubeRequest(stranger, { method: "GET", path: "/api/v1/namespaces" }));
    assertOnly(raw, "isUnauthorized");
  });

  it("an invalid object is Invalid (422)", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "errors");
    const generated = await failure(
      admin.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name: "Not_A_Name" } } }),
    );
    assertOnly(generated, "isInvalid");
    assert.equal(reasonOf(generated), "Invalid");
    assert.equal(isTransient(generated), false);
  });
});
