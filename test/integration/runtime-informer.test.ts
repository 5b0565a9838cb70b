// The informer (src/runtime/informer.ts) over the real list/watch (src/kube/list-watch.ts):
// sync, add/update/delete as key events, paged lists, an API server restart, and 410 Gone.
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import { CoreV1Api, type V1ConfigMap } from "@kubernetes/client-node";
import { isGone } from "../../src/kube/errors.ts";
import { kubeList, kubeListWatch, kubeWatch, type ListWatchScope } from "../../src/kube/list-watch.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { Informer, type InformerState, type ListFn, type ObjectChange, type WatchFn, type WatchQuery } from "../../src/runtime/informer.ts";
import type { KubeObject } from "../../src/runtime/store.ts";
import { restartComponent, testCluster, testNamespace } from "../support/cluster.ts";

type ConfigMap = KubeObject & { data?: Record<string, string> };

const LABEL = "tunnelkeeper.io/informer-test";

function scopeFor(namespace: string, extra: Partial<ListWatchScope> = {}): ListWatchScope {
  return { apiVersion: "v1", plural: "configmaps", kind: "ConfigMap", namespace, labelSelector: `${LABEL}=yes`, ...extra };
}

function aConfigMap(name: string, data: Record<string, string> = {}): V1ConfigMap {
  return { metadata: { name, labels: { [LABEL]: "yes" } }, data };
}

/** Polls `condition` every 50 ms until it holds or `ms` pass. */
async function eventually(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await delay(50);
  }
}

interface Running {
  informer: Informer<ConfigMap>;
  changes: ObjectChange<ConfigMap>[];
  transitions: InformerState[];
  failures: unknown[];
  done: Promise<void>;
}

/** Starts an informer with the given list/watch; stops it (and checks it stopped cleanly) after the test. */
function startInformer(t: TestContext, listWatch: { list: ListFn<ConfigMap>; watch: WatchFn<ConfigMap> }): Running {
  const changes: ObjectChange<ConfigMap>[] = [];
  const transitions: InformerState[] = [];
  const failures: unknown[] = [];
  const informer = new Informer<ConfigMap>({
    name: "configmaps",
    ...listWatch,
    errors: { isGone },
    observer: { transition: (_from, to) => transitions.push(to), failed: (_phase, error) => failures.push(error) },
  });
  informer.addHandler((change) => changes.push(change));
  const abort = new AbortController();
  const done = informer.start(abort.signal);
  t.after(async () => {
    abort.abort();
    await done;
    assert.equal(informer.state.phase, "stopped");
  });
  return { informer, changes, transitions, failures, done };
}

async function synced(running: Running): Promise<void> {
  const outcome = await Promise.race([
    running.informer.hasSynced().then(() => "synced"),
    running.done.then(
      () => "stopped",
      () => "stopped",
    ),
    delay(15_000, "timeout", { ref: false }),
  ]);
  assert.equal(outcome, "synced", "the informer did not sync within 15 s");
}

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
    assert.deepEqual(running.changes.map((c) => [c.key, c.old === undefined, c.new === undefined]), [[`${namespace}/before`, true, false]]);
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
    assert.deepEqual(running.informer.store.keys().sort(), names.map((n) => `${namespace}/${n}`));
    assert.equal(running.changes.length, 120);
  });

  it("keeps watching across a restart of kube-apiserver and sees a change made afterwards", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("before-restart") });
    const running = startInformer(t, kubeListWatch<ConfigMap>(admin, scopeFor(namespace)));
    await synced(running);
    await eventually("watching", () => running.informer.state.phase === "watching");

    await restartComponent("kube-apiserver");
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("after-restart", { v: "1" }) });
    await eventually("the object created after the restart", () => running.informer.store.get(`${namespace}/after-restart`) !== undefined, 60_000);
    await core.patchNamespacedConfigMap({ name: "after-restart", namespace, body: [{ op: "replace", path: "/data/v", value: "2" }] });
    await eventually("the update after the restart", () => running.informer.store.get(`${namespace}/after-restart`)?.data?.v === "2");
    assert.ok(running.informer.store.get(`${namespace}/before-restart`), "the object from before the restart is still known");
    t.diagnostic(`failures while the API server restarted: ${running.failures.length}; phases: ${running.transitions.map((s) => s.phase).join(" → ")}`);
  });

  it("a watch from a resourceVersion the server no longer serves fails with 410 Gone, and the informer relists", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "informer");
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("one") });
    const scope = scopeFor(namespace);

    // The real watch function, from a resourceVersion older than the watch cache holds.
    const watch = kubeWatch<ConfigMap>(admin, scope);
    const query: WatchQuery = { resourceVersion: "1", allowWatchBookmarks: true, timeoutSeconds: 30 };
    await assert.rejects(watch(query, () => undefined, new AbortController().signal), (error: unknown) => {
      assert.ok(isGone(error), `expected 410 Gone, got ${JSON.stringify(error)}`);
      return true;
    });

    // The informer's first watch is sent with that stale resourceVersion; everything else is real.
    let lists = 0;
    const list = kubeList<ConfigMap>(admin, scope);
    let staleOnce = true;
    const running = startInformer(t, {
      list: (signal) => {
        lists += 1;
        return list(signal);
      },
      watch: (q, onEvent, signal) => {
        const sent = staleOnce ? { ...q, resourceVersion: "1" } : q;
        staleOnce = false;
        return watch(sent, onEvent, signal);
      },
    });
    await synced(running);
    await eventually("the relist after 410", () => lists === 2 && running.informer.state.phase === "watching");
    assert.ok(running.failures.some(isGone));
    await core.createNamespacedConfigMap({ namespace, body: aConfigMap("two") });
    await eventually("the object created after the relist", () => running.informer.store.get(`${namespace}/two`) !== undefined);
    assert.equal(running.informer.store.size, 2);
  });
});
