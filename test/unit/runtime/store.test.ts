import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { byControllerOwner, byLabel, byNamespace, type KubeObject, objectKey, parseKey, Store } from "../../../src/runtime/store.ts";

function obj(namespace: string | undefined, name: string, labels?: Record<string, string>, rv = "1"): KubeObject {
  return { metadata: { namespace, name, labels, resourceVersion: rv } };
}

describe("Store", () => {
  it("keys namespaced objects as namespace/name and cluster-scoped ones as name", () => {
    assert.equal(objectKey(obj("ns", "a")), "ns/a");
    assert.equal(objectKey(obj(undefined, "node-1")), "node-1");
    assert.deepEqual(parseKey("ns/a"), { namespace: "ns", name: "a" });
    assert.deepEqual(parseKey("node-1"), { namespace: undefined, name: "node-1" });
  });

  it("upserts, returns the previous object, and deletes", () => {
    const store = new Store();
    assert.equal(store.upsert(obj("ns", "a")), undefined);
    const first = store.get("ns/a");
    assert.equal(store.upsert(obj("ns", "a", undefined, "2")), first);
    assert.equal(store.size, 1);
    assert.equal(store.delete("ns/a")?.metadata?.resourceVersion, "2");
    assert.equal(store.get("ns/a"), undefined);
  });

  it("keeps indexes in step with updates and deletes", () => {
    const store = new Store({ namespace: byNamespace, app: byLabel("app") });
    store.upsert(obj("ns1", "a", { app: "web" }));
    store.upsert(obj("ns1", "b", { app: "db" }));
    store.upsert(obj("ns2", "c", { app: "web" }));
    assert.deepEqual(store.byIndex("namespace", "ns1").map(objectKey).sort(), ["ns1/a", "ns1/b"]);
    assert.deepEqual(store.byIndex("app", "web").map(objectKey).sort(), ["ns1/a", "ns2/c"]);
    store.upsert(obj("ns1", "a", { app: "db" }));
    assert.deepEqual(store.byIndex("app", "web").map(objectKey), ["ns2/c"]);
    store.delete("ns2/c");
    assert.deepEqual(store.byIndex("app", "web"), []);
    assert.throws(() => store.byIndex("nope", "x"), RangeError);
  });

  it("indexes by controller owner key", () => {
    const store = new Store({ owner: byControllerOwner("PortForward") });
    store.upsert({
      metadata: {
        namespace: "ns",
        name: "svc",
        ownerReferences: [{ apiVersion: "tunnelkeeper.io/v1alpha1", kind: "PortForward", name: "pf", uid: "u", controller: true }],
      },
    });
    assert.deepEqual(store.byIndex("owner", "ns/pf").map(objectKey), ["ns/svc"]);
  });
});
