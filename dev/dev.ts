/**
 * `npm run dev` (the README's main job): a local control plane with a demo, and the operator
 * (controller + gateway) running against it in this process.
 *
 * 1. Starts the suite's control plane (test/cluster: etcd, kube-apiserver, KCM, KWOK), building
 *    its binaries first on a fresh machine; installs the PortForward CRD.
 * 2. Demo: namespace `bookinfo` with two `productpage` pods (KWOK pods whose port 9080 reaches
 *    small HTTP servers in this process), a Service `productpage` selecting them, and a
 *    PortForward for `service/productpage`.
 * 3. Runs controller and gateway (`tunnelkeeper run`), waits for the PortForward to be Ready,
 *    prints the address to curl and how to use kubectl, and keeps running until Ctrl-C.
 *
 * Why this lives in dev/ and not in the CLI (issue #9): it needs the test harness (test/cluster),
 * which neither the image nor the npm package ships, and `src/` must never import `test/`.
 * A `tunnelkeeper dev` command would be one that cannot work where the CLI is installed; as a
 * repository script it imports the harness from test/cluster and the operator from src/, and
 * the product stays free of development tooling (test/unit/cli/src-imports.test.ts checks it).
 *
 * Stopping (Ctrl-C, SIGTERM): the control plane runs in process groups of its own, so the
 * terminal's SIGINT reaches only this process; the operator stops first (the gateway withdraws
 * its status entries and deletes its Lease while the API server is still up), the control
 * plane last, exit code 0. A second Ctrl-C skips the graceful part and stops the control plane
 * at once (exit 130). Closing the terminal (SIGHUP) stops both in the same order (exit 129).
 * test/integration/dev-stop.test.ts checks that either way no control plane is left.
 *
 * Flags: those of `tunnelkeeper run` (e.g. `npm run dev -- --log-level debug`), and --help.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from "../src/api/identity.ts";
import { describeFailure } from "../src/commands/command-error.ts";
import { commandHelp } from "../src/commands/help.ts";
import { buildOperator } from "../src/commands/operator.ts";
import { SAME_INTERRUPT_MS } from "../src/commands/signals.ts";
import { type Config, ConfigError, parseConfig } from "../src/config.ts";
import { createLogger, type Logger } from "../src/observability/log.ts";
import { type ControlPlane, startControlPlane } from "../test/cluster/control-plane.ts";
import { createBackedPod, ensureNamespace } from "../test/cluster/pods.ts";

const execFileAsync = promisify(execFile);
const DEMO_NAMESPACE = "bookinfo";
const GATEWAY_NAMESPACE = "tunnelkeeper-system";
const REPO_ROOT = join(import.meta.dirname, "..");

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

/** Kills what is left of the control plane if this process exits without stopping it (a crash). */
function killOnExit(plane: ControlPlane): () => void {
  const onExit = (): void => {
    for (const pid of Object.values(plane.state.pids)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", onExit);
  return () => process.off("exit", onExit);
}

async function runDev(config: Extract<Config, { command: "run" }>, log: Logger): Promise<number> {
  process.stderr.write("Starting a local control plane (the first run builds it from Go modules; that takes a while)...\n");
  // Detached: its processes get their own process groups, so Ctrl-C in the terminal reaches only
  // us and the control plane is still serving while the gateway withdraws (it stops last).
  const plane = await startControlPlane({ detached: true });
  const forgetPlane = killOnExit(plane);
  const servers = await Promise.all(["productpage-1", "productpage-2"].map(startProductPage));
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      for (const server of servers) server.close();
      await plane.stop();
      forgetPlane();
    })();
    return stopping;
  };
  let firstInterrupt: number | undefined;
  /** Set once the operator runs (until then a Ctrl-C stops the control plane itself). */
  let closeOperator: (() => Promise<void>) | undefined;
  let hungUp = false;
  const onInterrupt = (): void => {
    // npm forwards the terminal's SIGINT to us, so one Ctrl-C may arrive twice within a few ms.
    const now = Date.now();
    if (firstInterrupt !== undefined && now - firstInterrupt < SAME_INTERRUPT_MS) return;
    const isFirst = firstInterrupt === undefined;
    firstInterrupt ??= now;
    // The first one is the operator's (its Manager stops it, then we stop the plane), unless it has not started yet.
    if (isFirst && closeOperator !== undefined) return;
    if (closeOperator !== undefined) process.stderr.write("Second interrupt: stopping the control plane at once.\n");
    const code = isFirst ? 0 : 130;
    stopAll().then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  process.on("SIGINT", onInterrupt);
  process.on("SIGTERM", onInterrupt);
  // The terminal was closed: nobody reads our output any more (writes fail with EIO), and the
  // control plane, in process groups of its own, would outlive us. Stop it and exit.
  // The operator goes first, as on Ctrl-C: while its watches and tunnels are open the API server
  // does not end on SIGTERM, and the harness kills it only after its 10 s grace.
  process.once("SIGHUP", () => {
    hungUp = true;
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
    (closeOperator?.() ?? Promise.resolve())
      .catch(() => undefined)
      .then(stopAll)
      .then(
        () => process.exit(129),
        () => process.exit(129),
      );
  });
  try {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.state.kubeconfig);
    await applyDemo(kubeConfig, plane.state.kubectl, plane.state.kubeconfig, servers);

    const operator = await buildOperator({
      common: { ...config.common, kubeconfigPath: plane.state.kubeconfig, context: undefined },
      controller: { ...config.controller, gatewayNamespace: GATEWAY_NAMESPACE, leaderElect: false },
      gateway: { ...config.gateway, podNamespace: GATEWAY_NAMESPACE, listenHost: "127.0.0.1", podIP: "" },
      log,
    });
    const running = operator.manager.start();
    closeOperator = () => operator.manager.close();

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
    process.stderr.write("Stopping the local control plane...\n");
    return hungUp ? 129 : 0;
  } finally {
    await stopAll();
  }
}

const program = "npm run dev --";
let config: Extract<Config, { command: "run" }>;
try {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      `Start a local control plane, the operator and a demo PortForward (bookinfo/productpage); Ctrl-C stops all.\nFlags are those of run:\n\n${commandHelp("run", "tunnelkeeper")}`,
    );
    process.exit(0);
  }
  const parsed = parseConfig(["run", "--metrics-bind-address", "127.0.0.1:0", ...argv], process.env, { program });
  if (parsed.command !== "run") throw new ConfigError("npm run dev takes the flags of tunnelkeeper run");
  config = parsed;
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(2);
}
const format = config.common.logFormat === "auto" ? (process.stdout.isTTY ? "text" : "json") : config.common.logFormat;
runDev(config, createLogger({ level: config.common.logLevel, format })).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const line = describeFailure(error);
    process.stderr.write(
      line === undefined ? `dev: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n` : `error: ${line}\n`,
    );
    process.exit(1);
  },
);
