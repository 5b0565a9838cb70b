import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { PortForward } from "../../../src/api/portforward.ts";
import type { KubeObject } from "../../../src/runtime/store.ts";
import { ClusterCache } from "../../../src/watch/cluster-cache.ts";
import { aPod, aPortForward } from "../../support/builders.ts";
import { scriptedKindCache } from "../../support/scripted-kind-cache.ts";

type Pod = V1Pod & KubeObject;

const pod = (name: string, namespace: string, resourceVersion: string): Pod => {
  const built = aPod(name, namespace).build() as Pod;
  return { ...built, metadata: { ...built.metadata, resourceVersion } } as Pod;
};
const names = (objects: readonly KubeObject[]) => objects.map((o) => o.metadata?.name ?? "").sort();

describe("KindCache.inNamespace", () => {
  const pods = scriptedKindCache<Pod>("pods");
  after(() => pods.stop());

  it("returns the same list while the namespace is unchanged, and a new one after any change in it", async () => {
    await pods.start([pod("a", "one", "1"), pod("b", "one", "2"), pod("x", "two", "3")]);
    const first = pods.cache.inNamespace("one");
    assert.deepEqual(names(first), ["a", "b"]);
    assert.equal(pods.cache.inNamespace("one"), first, "unchanged: the list is not rebuilt");
    const two = pods.cache.inNamespace("two");

    pods.emit("ADDED", pod("c", "one", "4"));
    assert.deepEqual(names(pods.cache.inNamespace("one")), ["a", "b", "c"], "an added object is listed");
    assert.equal(pods.cache.inNamespace("two"), two, "a change in another namespace keeps its list");

    const modified = pod("a", "one", "5");
    pods.emit("MODIFIED", modified);
    assert.ok(pods.cache.inNamespace("one").includes(modified), "a modified object is listed as it is now");

    pods.emit("DELETED", pod("b", "one", "6"));
    assert.deepEqual(names(pods.cache.inNamespace("one")), ["a", "c"], "a deleted object is gone");
    assert.deepEqual(names(pods.cache.inNamespace("three")), [], "an empty namespace lists nothing");
  });

  it("lets the informer's other handlers see the new list", async () => {
    const portForwards = scriptedKindCache<PortForward & KubeObject>("portforwards");
    await portForwards.start([]);
    const seen: string[][] = [];
    portForwards.cache.addHandler(({ new: current }) => {
      seen.push(names(portForwards.cache.inNamespace(current?.metadata?.namespace ?? "")));
    });
    portForwards.emit("ADDED", aPortForward("web", "ns").build());
    portForwards.emit("ADDED", aPortForward("db", "ns").build());
    assert.deepEqual(seen, [["web"], ["db", "web"]]);
    await portForwards.stop();
  });
});

describe("ClusterCache.parsedPortForward", () => {
  // No kinds watched: the cache makes no requests, so it needs no credentials.
  const cache = new ClusterCache({ kubeConfig: undefined as never, kinds: [], namespaces: [] });

  it("parses each object once and a new version of it again", () => {
    const raw = aPortForward("web").raw() as unknown as PortForward & KubeObject;
    const first = cache.parsedPortForward(raw);
    assert.ok(first.ok);
    assert.equal(first.value.spec.loadBalancing, "RoundRobin", "parsed: the schema's defaults are filled in");
    assert.equal(cache.parsedPortForward(raw), first, "the same object: the same result");
    const next = { ...raw, spec: { ...raw.spec, loadBalancing: "First" } } as PortForward & KubeObject;
    const second = cache.parsedPortForward(next);
    assert.ok(second.ok);
    assert.equal(second.value.spec.loadBalancing, "First");
  });

  it("keeps an object that does not match the schema unparsed", () => {
    const invalid = { ...aPortForward("bad").raw(), spec: { ports: [] } } as unknown as PortForward & KubeObject;
    assert.equal(cache.parsedPortForward(invalid).ok, false);
  });
});
