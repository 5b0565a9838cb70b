// The informer across a real restart of kube-apiserver (test/support/cluster.ts
// `restartComponent`). A *.serial.test.ts file: the restart takes the shared API server away for
// several seconds, so test/run-suite.ts runs it after the other files, alone.
import assert from "node:assert/strict";
import { it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { kubeListWatch } from "../../src/kube/list-watch.ts";
import { restartComponent, testCluster, testNamespace } from "../support/cluster.ts";
import { aConfigMap, type ConfigMap, eventually, scopeFor, startInformer, synced } from "./runtime-informer-support.ts";

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
  await eventually(
    "the object created after the restart",
    () => running.informer.store.get(`${namespace}/after-restart`) !== undefined,
    60_000,
  );
  await core.patchNamespacedConfigMap({ name: "after-restart", namespace, body: [{ op: "replace", path: "/data/v", value: "2" }] });
  await eventually("the update after the restart", () => running.informer.store.get(`${namespace}/after-restart`)?.data?.v === "2");
  assert.ok(running.informer.store.get(`${namespace}/before-restart`), "the object from before the restart is still known");
  t.diagnostic(
    `failures while the API server restarted: ${running.failures.length}; phases: ${running.transitions.map((s) => s.phase).join(" → ")}`,
  );
});
