import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withoutManagedFields } from "../../../src/kube/list-watch.ts";

describe("withoutManagedFields (what informers cache)", () => {
  it("drops metadata.managedFields and keeps everything else", () => {
    const metadata = {
      name: "web",
      namespace: "default",
      resourceVersion: "7",
      labels: { app: "web" },
      annotations: { "tunnelkeeper.io/reconcile-requested-at": "now" },
    };
    const rest = { apiVersion: "v1", kind: "Service", spec: { ports: [{ port: 80 }] } };
    const managedFields = [{ manager: "tunnelkeeper-controller", operation: "Apply", fieldsV1: { "f:spec": {} } }];
    const object = structuredClone({ ...rest, metadata: { ...metadata, managedFields } });
    assert.deepEqual(withoutManagedFields(object), { ...rest, metadata });
  });
  it("leaves objects without managedFields or metadata as they are", () => {
    assert.deepEqual(withoutManagedFields({ metadata: { name: "a" } }), { metadata: { name: "a" } });
    assert.deepEqual(withoutManagedFields({}), {});
  });
});
