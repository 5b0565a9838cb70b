/**
 * Many KWOK pods behind one local TCP backend: one KWOK `ClusterPortForward` selecting a whole
 * namespace maps `podPort` of every pod in it to `backend` (127.0.0.1), then `count` pods named
 * `app-0` … `app-{count-1}` are created on the KWOK node with bounded concurrency, and the call
 * resolves when all of them are Ready. One object for all pods (rather than one KWOK
 * `PortForward` per pod, as test/cluster/pods.ts makes) keeps setup to `count` + 2 requests.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { NODE_NAME } from "../../test/cluster/control-plane.ts";
import { ensureNamespace } from "../../test/cluster/pods.ts";
import { inParallel } from "./parallel.ts";

const KWOK_API_VERSION = "kwok.x-k8s.io/v1alpha1";
const READY_TIMEOUT_MS = 120_000;

export interface EchoPodsOptions {
  readonly namespace: string;
  readonly count: number;
  readonly podPort: number;
  readonly backendPort: number;
  readonly createConcurrency: number;
}

/** Creates the forward and the pods; resolves their names once every one is Ready. */
export async function createEchoPods(kubeConfig: KubeConfig, options: EchoPodsOptions): Promise<string[]> {
  const { namespace, count, podPort, backendPort } = options;
  await ensureNamespace(kubeConfig, namespace);
  await kubeRequest(kubeConfig, {
    method: "POST",
    path: resourcePath({ apiVersion: KWOK_API_VERSION, plural: "clusterportforwards" }),
    body: {
      apiVersion: KWOK_API_VERSION,
      kind: "ClusterPortForward",
      metadata: { name: `${namespace}-echo` },
      spec: {
        selector: { matchNamespaces: [namespace] },
        forwards: [{ ports: [podPort], target: { address: "127.0.0.1", port: backendPort } }],
      },
    },
  });
  const names = Array.from({ length: count }, (_, i) => `app-${i}`);
  await inParallel(names, options.createConcurrency, (name) =>
    kubeRequest(kubeConfig, {
      method: "POST",
      path: resourcePath({ apiVersion: "v1", plural: "pods", namespace }),
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app: "echo" } },
        spec: {
          nodeName: NODE_NAME,
          tolerations: [{ operator: "Exists" }],
          containers: [{ name: "app", image: "tunnelkeeper.test/backend:1", ports: [{ containerPort: podPort, protocol: "TCP" }] }],
        },
      },
    }),
  );
  await waitAllReady(kubeConfig, namespace, count);
  return names;
}

async function waitAllReady(kubeConfig: KubeConfig, namespace: string, count: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const list = (await kubeRequest(kubeConfig, {
      method: "GET",
      path: resourcePath({ apiVersion: "v1", plural: "pods", namespace }),
    })) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
    const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
    if (ready >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${count} pods in ${namespace} Ready after ${READY_TIMEOUT_MS / 1000} s`);
    await sleep(500);
  }
}
