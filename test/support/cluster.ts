/**
 * What a test file needs of the suite's control plane: admin and unprivileged KubeConfigs,
 * the built kubectl, a fresh namespace per test, and the runner's control endpoint.
 *
 * The suite runner (test/run-suite.ts) starts the control plane and passes its state file in
 * `TUNNELKEEPER_TEST_STATE`. Without it a test fails with a message saying how to run it;
 * it never skips.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TestContext } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Component, ControlPlaneState } from "../cluster/control-plane.ts";

export interface TestCluster {
  readonly state: ControlPlaneState;
  readonly admin: KubeConfig;
  readonly unprivileged: KubeConfig;
  readonly kubectl: string;
}

let cached: TestCluster | undefined;

export function testCluster(): TestCluster {
  if (cached) return cached;
  const stateFile = process.env.TUNNELKEEPER_TEST_STATE;
  if (!stateFile) {
    throw new Error("no control plane: run this test through `npm test` (test/run-suite.ts), which starts one");
  }
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as ControlPlaneState;
  const load = (path: string) => {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return kc;
  };
  cached = { state, admin: load(state.kubeconfig), unprivileged: load(state.unprivilegedKubeconfig), kubectl: state.kubectl };
  return cached;
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Creates a namespace unique to this test and deletes it when the test ends. */
export async function testNamespace(t: TestContext, prefix = "test"): Promise<string> {
  const cluster = testCluster();
  const name = `${prefix}-${randomBytes(4).toString("hex")}`.toLowerCase().slice(0, 63);
  const core = cluster.admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { "tunnelkeeper.io/test": "true" } } } });
  t.after(async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  return name;
}

function controlUrl(): string {
  const url = process.env.TUNNELKEEPER_TEST_CONTROL_URL;
  if (!url) throw new Error("no control endpoint: run this test through `npm test` (test/run-suite.ts)");
  return url;
}

/** Restarts a control-plane component (same ports and data); resolves when it is ready again. */
export async function restartComponent(component: Component): Promise<void> {
  const response = await fetch(`${controlUrl()}/restart/${component}`, { method: "POST" });
  if (response.status !== 204) throw new Error(`restart of ${component} failed: ${response.status} ${await response.text()}`);
}

/**
 * A second control plane, independent of the suite's (own etcd, CA, API server and KWOK), started
 * by the runner on first request and shared by every test asking for the same `name`.
 */
export async function secondCluster(name: string): Promise<TestCluster> {
  const response = await fetch(`${controlUrl()}/cluster/${encodeURIComponent(name)}`, { method: "POST" });
  if (response.status !== 200) throw new Error(`second control plane ${name} failed: ${response.status} ${await response.text()}`);
  const { stateFile } = (await response.json()) as { stateFile: string };
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as ControlPlaneState;
  return {
    state,
    admin: loadKubeConfig(state.kubeconfig),
    unprivileged: loadKubeConfig(state.unprivilegedKubeconfig),
    kubectl: state.kubectl,
  };
}

/** A second API server on the same etcd with other feature gates; returns its admin KubeConfig. */
export async function extraApiServer(featureGates: string): Promise<KubeConfig> {
  const response = await fetch(`${controlUrl()}/apiserver?featureGates=${encodeURIComponent(featureGates)}`, { method: "POST" });
  if (response.status !== 200) throw new Error(`extra API server failed: ${response.status} ${await response.text()}`);
  const { kubeconfig } = (await response.json()) as { kubeconfig: string };
  return loadKubeConfig(kubeconfig);
}
