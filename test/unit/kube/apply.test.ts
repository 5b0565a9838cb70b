import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyBody, applyStatusBody } from "../../../src/kube/apply.ts";
import { resourcePath } from "../../../src/kube/request.ts";

const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: "web",
    namespace: "demo",
    labels: { app: "web" },
    resourceVersion: "42",
    uid: "u1",
    managedFields: [{ manager: "x" }],
    creationTimestamp: "2026-01-01T00:00:00Z",
  },
  spec: { ports: [{ port: 80 }] },
  status: { loadBalancer: {} },
};

describe("resourcePath", () => {
  it("builds core, group, namespaced, cluster-scoped and subresource paths", () => {
    assert.equal(
      resourcePath({ apiVersion: "v1", plural: "services", namespace: "demo", name: "web" }),
      "/api/v1/namespaces/demo/services/web",
    );
    assert.equal(
      resourcePath({
        apiVersion: "tunnelkeeper.io/v1alpha1",
        plural: "portforwards",
        namespace: "demo",
        name: "pf",
        subresource: "status",
      }),
      "/apis/tunnelkeeper.io/v1alpha1/namespaces/demo/portforwards/pf/status",
    );
    assert.equal(
      resourcePath({ apiVersion: "tunnelkeeper.io/v1alpha1", plural: "portforwards" }),
      "/apis/tunnelkeeper.io/v1alpha1/portforwards",
    );
  });
});

describe("apply bodies", () => {
  it("drops status and server-owned metadata from an object apply", () => {
    assert.deepEqual(applyBody(service), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "demo", labels: { app: "web" } },
      spec: { ports: [{ port: 80 }] },
    });
  });

  it("sends only identity and status in a status apply", () => {
    assert.deepEqual(applyStatusBody({ ...service, status: { ready: true } }), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "demo" },
      status: { ready: true },
    });
  });
});
