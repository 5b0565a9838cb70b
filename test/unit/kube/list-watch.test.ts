import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { slimPod } from "../../../src/gateway/peer-cache.ts";
import { appendPageItems, type ListPage, withoutManagedFields } from "../../../src/kube/list-watch.ts";
import type { KubeObject } from "../../../src/runtime/store.ts";

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

describe("appendPageItems (one list page as an informer caches it)", () => {
  const scope = { apiVersion: "v1", kind: "Pod" };
  const pod = (name: string): V1Pod & KubeObject => ({
    metadata: {
      name,
      namespace: "shop",
      resourceVersion: "12",
      labels: { app: "web" },
      managedFields: [{ manager: "kubelet", operation: "Update", fieldsV1: { "f:status": {} } }],
    },
    spec: { nodeName: "node-0", containers: [{ name: "c", image: "web:1", ports: [{ containerPort: 8080 }] }] },
    status: { phase: "Running", podIP: "10.244.0.7", podIPs: [{ ip: "10.244.0.7" }] },
  });

  it("restores apiVersion and kind and drops managedFields before the transform sees an item", () => {
    const seen: unknown[] = [];
    const kept: KubeObject[] = [];
    appendPageItems(kept, { items: [pod("a")] }, scope, (object: V1Pod & KubeObject) => {
      seen.push(structuredClone(object));
      return object;
    });
    const { managedFields: _dropped, ...metadata } = pod("a").metadata!;
    assert.deepEqual(seen, [{ ...pod("a"), apiVersion: "v1", kind: "Pod", metadata }]);
    assert.deepEqual(kept, seen);
  });

  it("keeps only what the transform returns, appended after earlier pages in order", () => {
    const kept = [slimPod(pod("a"))];
    const page: ListPage<V1Pod & KubeObject> = { items: [pod("b"), pod("c")], metadata: { continue: "t" } };
    appendPageItems(kept, page, scope, slimPod);
    assert.deepEqual(
      kept.map((p) => p.metadata.name),
      ["a", "b", "c"],
    );
    assert.deepEqual(kept[2], {
      metadata: { name: "c", namespace: "shop", resourceVersion: "12", labels: { app: "web" } },
      ips: ["10.244.0.7"],
    });
  });

  it("appends nothing for a page without items", () => {
    const kept: KubeObject[] = [];
    appendPageItems(kept, { metadata: { resourceVersion: "9" } }, scope, (object: KubeObject) => object);
    assert.deepEqual(kept, []);
  });
});
