/**
 * `tunnelkeeper dev` (the README's main job): a local control plane with a demo, and the
 * operator (controller + gateway) running against it in this process.
 *
 * 1. Starts the suite's control plane (test/cluster: etcd, kube-apiserver, KCM, KWOK), building
 *    its binaries first on a fresh machine; installs the PortForward CRD.
 * 2. Demo: namespace `bookinfo` with two `productpage` pods (KWOK pods whose port 9080 reaches
 *    small HTTP servers in this process), a Service `productpage` selecting them, and a
 *    PortForward for `service/productpage`.
 * 3. Runs controller and gateway (`run`), waits for the PortForward to be Ready, prints the
 *    address to curl and how to use kubectl, and keeps running until Ctrl-C.
 *
 * The control plane is development tooling: it is loaded only by this command, never by the
 * controller or gateway in a cluster.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from "../api/identity.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../observability/log.ts";
import { buildOperator } from "./operator.ts";

const execFileAsync = promisify(execFile);
const DEMO_NAMESPACE = "bookinfo";
const GATEWAY_NAMESPACE = "tunnelkeeper-system";
const REPO_ROOT = join(import.meta.dirname, "..", "..");

function startProductPage(replica: string): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`Hello from productpage (${replica}) through tunnelkeeper: ${req.method} ${req.url}\n`);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function portOf(server: Server): number {
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

async function applyDemo(kubeConfig: KubeConfig, kubectl: string, kubeconfigPath: string, servers: readonly Server[]): Promise<void> {
  const { createBackedPod, ensureNamespace } = await import("../../test/cluster/pods.ts");
  await execFileAsync(kubectl, ["--kubeconfig", kubeconfigPath, "apply", "--server-side", "-f", join(REPO_ROOT, "crds")]);
  await execFileAsync(kubectl, [
    "--kubeconfig",
    kubeconfigPath,
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    `crd/${PLURAL}.${GROUP}`,
  ]);
  await ensureNamespace(kubeConfig, GATEWAY_NAMESPACE);
  await ensureNamespace(kubeConfig, DEMO_NAMESPACE);
  await Promise.all(
    servers.map((server, i) =>
      createBackedPod(kubeConfig, {
        namespace: DEMO_NAMESPACE,
        name: `productpage-${i + 1}`,
        labels: { app: "productpage" },
        ports: [{ podPort: 9080, host: "127.0.0.1", port: portOf(server), name: "http" }],
      }),
    ),
  );
  await kubeConfig.makeApiClient(CoreV1Api).createNamespacedService({
    namespace: DEMO_NAMESPACE,
    body: {
      metadata: { name: "productpage", labels: { app: "productpage" } },
      spec: { selector: { app: "productpage" }, ports: [{ name: "http", port: 9080, targetPort: "http" }] },
    },
  });
  await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: DEMO_NAMESPACE,
    plural: PLURAL,
    body: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: "productpage" },
      spec: {
        target: { service: "productpage" },
        ports: [{ name: "http", port: 9080, targetPort: "http" }],
        service: { name: "productpage-tunnel" },
      },
    },
  });
}

interface ReadyState {
  readonly ready: boolean;
  readonly message: string;
  readonly gatewayPort: number | undefined;
}

async function readPortForward(kubeConfig: KubeConfig): Promise<ReadyState> {
  const pf = (await kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: DEMO_NAMESPACE,
    plural: PLURAL,
    name: "productpage",
  })) as { status?: { conditions?: { type: string; status: string; message: string }[]; ports?: { gatewayPort: number }[] } };
  const ready = pf.status?.conditions?.find((c) => c.type === "Ready");
  return { ready: ready?.status === "True", message: ready?.message ?? "no status yet", gatewayPort: pf.status?.ports?.[0]?.gatewayPort };
}

export async function runDev(config: Extract<Config, { command: "dev" }>, log: Logger): Promise<number> {
  const { startControlPlane } = await import("../../test/cluster/control-plane.ts");
  process.stderr.write("Starting a local control plane (the first run builds it from Go modules; that takes a while)...\n");
  const plane = await startControlPlane();
  const servers = await Promise.all(["productpage-1", "productpage-2"].map(startProductPage));
  const stopAll = async () => {
    for (const server of servers) server.close();
    await plane.stop();
  };
  try {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.state.kubeconfig);
    await applyDemo(kubeConfig, plane.state.kubectl, plane.state.kubeconfig, servers);

    const operator = buildOperator({
      common: { ...config.common, kubeconfigPath: plane.state.kubeconfig },
      controller: { ...config.controller, gatewayNamespace: GATEWAY_NAMESPACE, leaderElect: false },
      gateway: { ...config.gateway, podNamespace: GATEWAY_NAMESPACE, listenHost: "127.0.0.1", podIP: "" },
      log,
    });
    const running = operator.manager.start();

    let state = await readPortForward(kubeConfig);
    const deadline = Date.now() + 60_000;
    while (!state.ready && Date.now() < deadline) {
      await sleep(250);
      state = await readPortForward(kubeConfig);
    }
    const kubectl = `${plane.state.kubectl} --kubeconfig ${plane.state.kubeconfig}`;
    process.stderr.write(
      [
        "",
        state.ready ? "tunnelkeeper is running. The demo PortForward is Ready:" : `The demo PortForward is not Ready yet: ${state.message}`,
        `  ${state.message}`,
        "",
        "Try it:",
        `  curl http://127.0.0.1:${state.gatewayPort ?? "<gatewayPort>"}/productpage`,
        `  ${kubectl} get portforwards.tunnelkeeper.io -n ${DEMO_NAMESPACE} -o wide`,
        `  ${kubectl} describe pf productpage -n ${DEMO_NAMESPACE}`,
        "",
        "(The gateway listens on 127.0.0.1 at the allocated gateway port; in a cluster the Service",
        ` productpage-tunnel.${DEMO_NAMESPACE} routes to the gateway pods. KWOK, the local kubelet, has a`,
        " PortForward kind of its own, hence the full name portforwards.tunnelkeeper.io; `pf` is ours.)",
        "Press Ctrl-C to stop.",
        "",
      ].join("\n"),
    );
    await running;
    return 0;
  } finally {
    await stopAll();
  }
}
