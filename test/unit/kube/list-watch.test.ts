import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withoutManagedFields } from "../../../src/kube/list-watch.ts";

describe("withoutManagedFields (what informers cache)", () => {
  it("drops metadata.managedFields and keeps everything else", () => {
    const object = {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "web",
        namespace: "default",
        resourceVersion: "7",
        labels: { app: "web" },
        annotations: { "tunnelkeeper.io/reconcile-requested-at": "now" },
        managedFields: [{ manager: "tunnelkeeper-controller", operation: "Apply", fieldsV1: { "f:spec": {} } }],
      },
      spec: { ports: [{ port: 80 }] },
    };
    const stripped = withoutManagedFields(object);
    assert.deepEqual(stripped, {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "web",
        namespace: "default",
        resourceVersion: "7",
        labels: { app: "web" },
        annotations: { "tunnelkeeper.io/reconcile-requested-at": "now" },
      },
      spec: { ports: [{ port: 80 }] },
    });
  });
  it("leaves objects without managedFields or metadata as they are", () => {
    assert.deepEqual(withoutManagedFields({ metadata: { name: "a" } }), { metadata: { name: "a" } });
    assert.deepEqual(withoutManagedFields({}), {});
  });
});
