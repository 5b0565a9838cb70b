/**
 * "Pods" whose port-forward reaches a TCP server the caller owns: a Pod bound to the KWOK node
 * (KWOK marks it Running and Ready) plus a KWOK `PortForward` of the same name that maps each
 * pod port to a local `host:port`. A forward to a port nobody listens on is how tests get a
 * "connection refused" at the target.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1OwnerReference, type V1Pod } from "@kubernetes/client-node";
import { NODE_NAME } from "./control-plane.ts";

export interface PodPortMapping {
  readonly podPort: number;
  readonly host: string;
  readonly port: number;
  /** Container port name, for tests of named targetPorts. */
  readonly name?: string;
}

export interface BackedPodOptions {
  readonly namespace: string;
  readonly name: string;
  readonly ports: readonly PodPortMapping[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Wait until the pod reports Ready (default true). */
  readonly waitReady?: boolean;
  readonly ownerReferences?: readonly V1OwnerReference[];
}

function isConflict(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && (err as { code: unknown }).code === 409;
}

export async function ensureNamespace(kubeConfig: KubeConfig, name: string): Promise<void> {
  try {
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/** Creates (or replaces the forwards of) a KWOK-backed pod and waits until it is Ready. */
export async function createBackedPod(kubeConfig: KubeConfig, options: BackedPodOptions): Promise<V1Pod> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await ensureNamespace(kubeConfig, options.namespace);
  await setPodForwards(custom, options.namespace, options.name, options.ports);
  let pod: V1Pod;
  try {
    pod = await core.createNamespacedPod({
      namespace: options.namespace,
      body: {
        metadata: {
          name: options.name,
          labels: { ...options.labels },
          ...(options.ownerReferences ? { ownerReferences: [...options.ownerReferences] } : {}),
        },
        spec: {
          nodeName: NODE_NAME,
          containers: [
            {
              name: "app",
              image: "tunnelkeeper.test/backend:1",
              ports: options.ports.map((p) => ({ containerPort: p.podPort, protocol: "TCP", ...(p.name ? { name: p.name } : {}) })),
            },
          ],
          tolerations: [{ operator: "Exists" }],
        },
      },
    });
  } catch (err) {
    if (!isConflict(err)) throw err;
    pod = await core.readNamespacedPod({ namespace: options.namespace, name: options.name });
  }
  return options.waitReady === false ? pod : waitPodReady(kubeConfig, options.namespace, options.name);
}

async function setPodForwards(custom: CustomObjectsApi, namespace: string, name: string, ports: readonly PodPortMapping[]) {
  const body = {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "PortForward",
    metadata: { name, namespace },
    spec: { forwards: ports.map((p) => ({ ports: [p.podPort], target: { address: p.host, port: p.port } })) },
  };
  const target = { group: "kwok.x-k8s.io", version: "v1alpha1", namespace, plural: "portforwards" };
  try {
    await custom.createNamespacedCustomObject({ ...target, body });
  } catch (err) {
    if (!isConflict(err)) throw err;
    const current = (await custom.getNamespacedCustomObject({ ...target, name })) as { metadata: { resourceVersion: string } };
    await custom.replaceNamespacedCustomObject({
      ...target,
      name,
      body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } },
    });
  }
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

export async function waitPodReady(kubeConfig: KubeConfig, namespace: string, name: string, timeoutMs = 60_000): Promise<V1Pod> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await core.readNamespacedPod({ namespace, name });
    if (isReady(pod)) return pod;
    if (Date.now() > deadline) throw new Error(`pod ${namespace}/${name} not Ready after ${timeoutMs} ms: ${JSON.stringify(pod.status)}`);
    await sleep(100);
  }
}
