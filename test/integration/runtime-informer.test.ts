// The informer (src/runtime/informer.ts) over the real list/watch (src/kube/list-watch.ts):
// sync, add/update/delete as key events, paged lists, a lost connection, and 410 Gone after
// moving to another API server replica.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { isGone } from "../../src/kube/errors.ts";
import { kubeList, kubeListWatch, kubeWatch } from "../../src/kube/list-watch.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import type { WatchQuery } from "../../src/runtime/informer.ts";
import { extraApiServer, testCluster, testNamespace } from "../support/cluster.ts";
import {
  aConfigMap,
  type ConfigMap,
  eventually,
  scopeFor,
  startInformer,
  startTcpRelay,
  synced,
  viaServer,
} from "./runtime-informer-support.ts";

describe("Informer over ConfigMaps on the real API server", () => {
  it("syncs the existing objects, then reports add, update and delete by key", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("before", { v: "0" }) });
    // Not selected: the label selector applies to list and watch.
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "unlabelled" } } });

    const running = startInformer(t, kubeListWatch<ConfigMap>(admin, scopeFor(namespace)));
    await synced(running);
    assert.deepEqual(running.informer.store.keys(), [`${namespace}/before`]);
    const listed = running.informer.store.get(`${namespace}/before`);
    assert.equal(listed?.apiVersion, "v1", "listed items get apiVersion/kind back");
    assert.equal(listed?.kind, "ConfigMap");
    assert.deepEqual(
      running.changes.map((c) => [c.key, c.old === undefined, c.new === undefined]),
      [[`${namespace}/before`, true, false]],
    );
    running.changes.length = 0;

    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("added", { v: "1" }) });
    await eventually("the add", () => running.changes.length >= 1);
    await core.patchNamespacedConfigMap({ name: "added", namespace, body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await eventually("the update", () => running.changes.length >= 2);
    await core.deleteNamespacedConfigMap({ name: "before", namespace });
    await eventually("the delete", () => running.changes.length >= 3);

    const [add, update, remove] = running.changes;
    assert.equal(add?.key, `${namespace}/added`);
    assert.equal(add?.old, undefined);
    assert.equal(add?.new?.data?.v, "1");
    assert.equal(update?.key, `${namespace}/added`);
    assert.equal(update?.old?.data?.v, "1");
    assert.equal(update?.new?.data?.v, "2");
    assert.equal(remove?.key, `${namespace}/before`);
    assert.equal(remove?.old?.data?.v, "0");
    assert.equal(remove?.new, undefined);
    assert.deepEqual(running.informer.store.keys(), [`${namespace}/added`]);
    assert.equal(running.informer.store.get(`${namespace}/added`)?.data?.v, "2");
    assert.deepEqual(running.failures, []);
  });

  it("lists 120 objects in pages of 50", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    const names = Array.from({ length: 120 }, (_, i) => `cm-${String(i).padStart(3, "0")}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(names.slice(i, i + 20).map((name) => core.createNamespacedConfigMap({ namespace, body: aConfigMap(name) })));
    }

    const scope = scopeFor(namespace, { pageSize: 50 });
    // The server really pages at this size: one request returns 50 and a continue token.
    const first = (await kubeRequest(admin, {
      method: "GET",
      path: resourcePath({ apiVersion: "v1", plural: "configmaps", namespace }),
      query: { labelSelector: scope.labelSelector, limit: 50 },
    })) as { items: unknown[]; metadata: { continue?: string } };
    assert.equal(first.items.length, 50);
    assert.ok(first.metadata.continue);
    const page = (await kubeList<ConfigMap>(admin, { ...scope, pageSize: 50 })(new AbortController().signal)).items;
    assert.equal(page.length, 120, "kubeList follows continue tokens to the end");

    const running = startInformer(t, kubeListWatch<ConfigMap>(admin, scope));
    await synced(running);
    assert.equal(running.informer.store.size, 120);
    assert.deepEqual(
      running.informer.store.keys().sort(),
      names.map((n) => `${namespace}/${n}`),
    );
    assert.equal(running.changes.length, 120);
  });

  it("with a transform, caches only what it keeps, from every page of the list and from watch events", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    // More than TRANSFORMED_PAGE_SIZE (100): the list takes two pages.
    const names = Array.from({ length: 120 }, (_, i) => `cm-${String(i).padStart(3, "0")}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names
          .slice(i, i + 20)
          .map((name) => core.createNamespacedConfigMap({ namespace, body: aConfigMap(name, { v: "0", bulk: "x".repeat(512) }) })),
      );
    }
    const seen: ConfigMap[] = [];
    const keepV = (object: ConfigMap): ConfigMap => {
      seen.push(object);
      return { apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata, data: { v: object.data?.v ?? "" } };
    };
    const running = startInformer(t, kubeListWatch<ConfigMap>(admin, scopeFor(namespace), keepV));
    await synced(running);
    assert.equal(running.informer.store.size, 120);
    assert.ok(
      running.informer.store.list().every((cm) => cm.kind === "ConfigMap" && Object.keys(cm.data ?? {}).join() === "v"),
      "the store holds the transformed objects only",
    );
    assert.ok(
      seen.every((cm) => cm.apiVersion === "v1" && !("managedFields" in (cm.metadata ?? {}))),
      "the transform sees listed items with apiVersion/kind restored and without managedFields",
    );

    await core.patchNamespacedConfigMap({ name: "cm-007", namespace, body: [{ op: "replace", path: "/data/v", value: "1" }] });
    await eventually("the update", () => running.informer.store.get(`${namespace}/cm-007`)?.data?.v === "1");
    assert.deepEqual(running.informer.store.get(`${namespace}/cm-007`)?.data, { v: "1" }, "watched objects are transformed too");
    assert.deepEqual(running.failures, []);
  });

  it("keeps watching across a lost API server connection and recovers the changes made meanwhile", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("before-outage", { v: "1" }) });
    // The informer reaches the real API server through a TCP relay that the test can cut, so only
    // this informer loses its connection (restarting kube-apiserver would disturb every test file
    // running at the same time; runtime-informer-restart.serial.ts does that on its own).
    const relay = await startTcpRelay(new URL(admin.getCurrentCluster()!.server));
    t.after(() => relay.close());
    const running = startInformer(t, kubeListWatch<ConfigMap>(viaServer(admin, relay.url), scopeFor(namespace)));
    await synced(running);
    await eventually("watching", () => running.informer.state.phase === "watching");
    await delay(200);

    // Outage: open connections are reset and new ones refused for 3 s. Meanwhile, through the
    // direct connection, an object is added, one changed and one deleted.
    const outage = relay.outage(3_000);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("during-outage") });
    await core.patchNamespacedConfigMap({ name: "before-outage", namespace, body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await outage;
    assert.ok(running.failures.length > 0, "the informer noticed the outage");

    await eventually(
      "the add made during the outage",
      () => running.informer.store.get(`${namespace}/during-outage`) !== undefined,
      45_000,
    );
    await eventually("the update made during the outage", () => running.informer.store.get(`${namespace}/before-outage`)?.data?.v === "2");
    // And it keeps watching afterwards.
    await core.deleteNamespacedConfigMap({ name: "during-outage", namespace });
    await eventually("a delete after the outage", () => running.informer.store.get(`${namespace}/during-outage`) === undefined);
    t.diagnostic(`failures during the outage: ${running.failures.length}; phases: ${running.transitions.map((s) => s.phase).join(" → ")}`);
  });

  it("moved to another API server replica whose watch cache starts later, gets 410 Gone and relists", async (t) => {
    // As behind the load balancer of an HA control plane: the second kube-apiserver (same etcd)
    // starts after the informer listed, so its watch cache cannot serve the informer's
    // resourceVersion and answers the resumed watch with 410 Expired.
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("one") });
    const scope = scopeFor(namespace);
    const relay = await startTcpRelay(new URL(admin.getCurrentCluster()!.server));
    t.after(() => relay.close());
    const running = startInformer(t, kubeListWatch<ConfigMap>(viaServer(admin, relay.url), scope));
    await synced(running);
    await eventually("watching", () => running.informer.state.phase === "watching");
    const { resourceVersion } = await kubeList<ConfigMap>(admin, scope)(new AbortController().signal);
    // A write the informer does not see (not selected), so the replica starts at a later revision.
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "unselected" } } });

    const replica = await extraApiServer("");
    // The real watch function on the replica, from the informer's resourceVersion.
    const query: WatchQuery = { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 30 };
    await assert.rejects(
      kubeWatch<ConfigMap>(replica, scope)(query, () => undefined, new AbortController().signal),
      (error: unknown) => {
        assert.ok(isGone(error), `expected 410 Gone, got ${JSON.stringify(error)}`);
        return true;
      },
    );

    relay.upstream = new URL(replica.getCurrentCluster()!.server);
    await relay.outage(200);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("two") });
    await eventually("the object created after the failover", () => running.informer.store.get(`${namespace}/two`) !== undefined, 30_000);
    assert.ok(running.failures.some(isGone), "the resumed watch got 410");
    const phases = running.transitions.map((s) => s.phase);
    assert.ok(phases.lastIndexOf("listing") > phases.indexOf("watching"), `relisted after watching: ${phases.join(" → ")}`);
    assert.deepEqual(running.informer.store.keys().sort(), [`${namespace}/one`, `${namespace}/two`]);
    t.diagnostic(`phases: ${phases.join(" → ")}`);
  });
});
