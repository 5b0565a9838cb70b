/**
 * `npm run bench -- gateway [--json FILE] [--connections N] [--replacements N]`
 *
 * One gateway process (and one controller) against the suite's control plane, each as the chart
 * installs it: the shipped bundle under its container's memory limit (support/installed-operator.ts).
 * 1. Concurrency: --connections (default 10,000) client connections held open at once through
 *    the gateway port, spread over 3 target pods; each sends 1 KiB of random bytes twice (once
 *    while connections are being opened, once when all are open) and verifies every echoed byte.
 *    Reports the gateway's peak RSS (VmHWM) and how long opening took. Before the connections,
 *    its idle RSS: VmRSS once caches are synced, the PortForward is Ready and the gateway has
 *    released its start-up memory (`tunnelkeeper_idle_memory_releases_total` ≥ 1, within 60 s;
 *    src/runtime/idle-memory.ts), and its start-up peak (VmHWM at that point).
 * 2. Failover: --replacements (default 20) times, the only target pod is deleted and a
 *    replacement with the same labels is created; measures from the replacement being Ready
 *    (as the API server reports it) to the first successful round trip through the gateway.
 * 3. Access: the PortForward admits the bench's clients by `ipBlock 127.0.0.1/32` (they are no
 *    pods); --peer-pods (default 1,000) KWOK pods in another namespace fill the gateway's peer
 *    cache, and --peer-cache off runs the gateway with --peer-cache=false, so two runs give the
 *    cache's RSS cost at --connections. Denial latency is measured where it is real, from client
 *    pods on the real node (test/in-cluster/access.test.ts): every source here is loopback, which
 *    the gateway always admits, and the benchmark sends traffic to no other address.
 * A script, never a test: it prints figures and writes JSON.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { createBackedPod, ensureNamespace, waitPodReady } from "../test/cluster/pods.ts";
import { installCrd } from "../test/support/operator-process.ts";
import { peakRssMiB, roundTrip } from "./support/client.ts";
import { startInstalledOperator } from "./support/installed-operator.ts";
import { percentile } from "./support/parallel.ts";
import { cpuSeconds, statusKiB } from "./support/process-stats.ts";

const NAMESPACE = "bench-gateway";
const PAYLOAD = 1024;

/** Whether the gateway reported an idle memory release within `timeoutMs` (polling its /metrics). */
async function waitForIdleRelease(metrics: () => Promise<string>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const released = /^tunnelkeeper_idle_memory_releases_total (\d+)$/m.exec(await metrics())?.[1];
    if (Number(released ?? 0) >= 1) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

function startEchoProcess(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "support", "echo-process.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve({ port: Number(line), child }));
    child.once("exit", (code) => reject(new Error(`echo process exited ${code}`)));
  });
}

/** Sends `payload` on an open socket and resolves when exactly it has come back. */
function echoOn(socket: Socket, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < payload.length) return;
      socket.off("data", onData);
      socket.off("error", reject);
      if (!Buffer.concat(chunks).equals(payload)) reject(new Error("echoed bytes differ"));
      else resolve();
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(payload);
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

async function waitForReady(custom: CustomObjectsApi, name: string): Promise<number> {
  for (;;) {
    const pf = (await custom.getNamespacedCustomObject({
      group: "tunnelkeeper.io",
      version: "v1alpha1",
      namespace: NAMESPACE,
      plural: "portforwards",
      name,
    })) as {
      status?: { conditions?: { type: string; status: string }[]; ports?: { gatewayPort: number }[] };
    };
    const port = pf.status?.ports?.[0]?.gatewayPort;
    if (port !== undefined && pf.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: "string", default: "10000" },
      replacements: { type: "string", default: "20" },
      "peer-cache": { type: "string", default: "on" },
      "peer-pods": { type: "string", default: "1000" },
      "gateway-node-options": { type: "string", default: "" },
    },
  });
  const peerCache = values["peer-cache"] !== "off";
  const peerPods = Number(values["peer-pods"]);
  const connections = Number(values.connections);
  const replacements = Number(values.replacements);
  const plane = await startControlPlane();
  const echo = await startEchoProcess();
  const sockets: Socket[] = [];
  try {
    const admin = new KubeConfig();
    admin.loadFromFile(plane.state.kubeconfig);
    await installCrd({ state: plane.state, admin, unprivileged: admin, kubectl: plane.state.kubectl });
    await ensureNamespace(admin, NAMESPACE);
    const custom = admin.makeApiClient(CustomObjectsApi);
    const core = admin.makeApiClient(CoreV1Api);
    const controller = await startInstalledOperator({
      command: "controller",
      kubeconfig: plane.state.kubeconfig,
      args: ["--log-level", "warn"],
    });
    // Pods elsewhere in the cluster, as the peer cache holds them in a real cluster.
    await ensureNamespace(admin, `${NAMESPACE}-peers`);
    for (let i = 0; i < peerPods; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, peerPods - i) }, (_, j) =>
          core.createNamespacedPod({
            namespace: `${NAMESPACE}-peers`,
            body: {
              metadata: { name: `peer-${i + j}`, labels: { app: "peer", "app.kubernetes.io/name": "peer", team: `t${(i + j) % 10}` } },
              spec: { nodeName: "kwok-node-0", containers: [{ name: "c", image: "peer:bench" }] },
            },
          }),
        ),
      );
    }
    const gateway = await startInstalledOperator({
      command: "gateway",
      kubeconfig: plane.state.kubeconfig,
      args: ["--log-level", "warn", `--peer-cache=${peerCache}`],
      ...(values["gateway-node-options"] === "" ? {} : { env: { NODE_OPTIONS: values["gateway-node-options"] } }),
    });
    const gatewayPid = gateway.child.pid ?? 0;

    // 1. Concurrency.
    for (const i of [0, 1, 2]) {
      await createBackedPod(admin, {
        namespace: NAMESPACE,
        name: `wide-${i}`,
        labels: { app: "wide" },
        ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }],
      });
    }
    await custom.createNamespacedCustomObject({
      group: "tunnelkeeper.io",
      version: "v1alpha1",
      namespace: NAMESPACE,
      plural: "portforwards",
      body: {
        apiVersion: "tunnelkeeper.io/v1alpha1",
        kind: "PortForward",
        metadata: { name: "wide" },
        spec: {
          target: { selector: { matchLabels: { app: "wide" } } },
          ports: [{ port: 80, targetPort: 8080 }],
          access: { from: [{ ipBlock: { cidr: "127.0.0.1/32" } }] },
        },
      },
    });
    const widePort = await waitForReady(custom, "wide");
    const idleReleased = await waitForIdleRelease(() => gateway.metrics(), 60_000);
    const rssIdle = statusKiB(gatewayPid, "VmRSS") / 1024;
    const rssBefore = await peakRssMiB(gatewayPid);
    const cpuBefore = cpuSeconds(gatewayPid);
    const openStarted = performance.now();
    const BATCH = 250;
    for (let i = 0; i < connections; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, connections - i) }, async () => {
          const socket = await openSocket(widePort);
          await echoOn(socket, randomBytes(PAYLOAD));
          return socket;
        }),
      );
      sockets.push(...batch);
      if ((i / BATCH) % 8 === 0) process.stderr.write(`[bench] ${sockets.length} connections open\n`);
    }
    const openSeconds = (performance.now() - openStarted) / 1000;
    const secondStarted = performance.now();
    await Promise.all(sockets.map((socket) => echoOn(socket, randomBytes(PAYLOAD))));
    const secondSeconds = (performance.now() - secondStarted) / 1000;
    const active = /tunnelkeeper_gateway_connections_active\{[^}]*\} (\d+)/.exec(await gateway.metrics())?.[1];
    const rssWithConnections = await peakRssMiB(gatewayPid);
    // The gateway's CPU for opening, verifying and echoing twice on all connections.
    const connectionsCpuSeconds = cpuSeconds(gatewayPid) - cpuBefore;

    const gatewayPeakRss = await peakRssMiB(gatewayPid);
    for (const socket of sockets) socket.destroy();
    sockets.length = 0;
    process.stderr.write(`[bench] ${connections} connections verified twice; gateway peak RSS ${gatewayPeakRss.toFixed(0)} MiB\n`);

    // 2. Failover.
    await createBackedPod(admin, {
      namespace: NAMESPACE,
      name: "solo-0",
      labels: { app: "solo" },
      ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }],
    });
    await custom.createNamespacedCustomObject({
      group: "tunnelkeeper.io",
      version: "v1alpha1",
      namespace: NAMESPACE,
      plural: "portforwards",
      body: {
        apiVersion: "tunnelkeeper.io/v1alpha1",
        kind: "PortForward",
        metadata: { name: "solo" },
        spec: { target: { selector: { matchLabels: { app: "solo" } } }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const soloPort = await waitForReady(custom, "solo");
    const failovers: number[] = [];
    for (let i = 1; i <= replacements; i++) {
      await core.deleteNamespacedPod({ namespace: NAMESPACE, name: `solo-${i - 1}`, gracePeriodSeconds: 0 });
      await createBackedPod(admin, {
        namespace: NAMESPACE,
        name: `solo-${i}`,
        labels: { app: "solo" },
        ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }],
        waitReady: false,
      });
      await waitPodReady(admin, NAMESPACE, `solo-${i}`);
      const readyAt = performance.now();
      for (;;) {
        try {
          await roundTrip(soloPort);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      failovers.push((performance.now() - readyAt) / 1000);
    }
    failovers.sort((a, b) => a - b);
    await gateway.stop();
    await controller.stop();

    const report = {
      kubernetesVersion: "v1.36.3",
      connections,
      payloadBytesPerRound: PAYLOAD,
      targetPods: 3,
      openSeconds,
      secondRoundSeconds: secondSeconds,
      gatewayActiveConnectionsMetric: active === undefined ? null : Number(active),
      gatewayPeakRssMiB: gatewayPeakRss,
      gatewayRssBeforeMiB: rssBefore,
      gatewayRssIdleMiB: rssIdle,
      gatewayIdleMemoryReleased: idleReleased,
      gatewayConnectionsCpuSeconds: connectionsCpuSeconds,
      gatewayMemoryLimitMiB: gateway.memoryLimitBytes === null ? null : gateway.memoryLimitBytes / 2 ** 20,
      peerCache,
      peerPods,
      failover: {
        replacements,
        p50Seconds: percentile(failovers, 0.5),
        p99Seconds: percentile(failovers, 0.99),
        maxSeconds: failovers[failovers.length - 1],
        samples: failovers,
      },
    };
    process.stdout.write(
      [
        "gateway benchmark (Kubernetes v1.36.3, KWOK pods, 2 cores)",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        `| concurrent connections held, every byte verified (2 × 1 KiB each) | ${connections} | 10,000 |`,
        `| time to open and verify them (batches of ${BATCH}) | ${openSeconds.toFixed(1)} s | – |`,
        `| second 1 KiB round on all of them at once | ${secondSeconds.toFixed(1)} s | – |`,
        `| gateway CPU for both rounds (user + system) | ${connectionsCpuSeconds.toFixed(2)} s | – |`,
        `| gateway memory limit (the chart's, as a cgroup) | ${report.gatewayMemoryLimitMiB === null ? "none (no memory cgroup controller)" : `${report.gatewayMemoryLimitMiB} MiB`} | – |`,
        `| gateway RSS idle (VmRSS, caches synced${idleReleased ? ", start-up memory released" : ", NO idle release within 60 s"}) | ${rssIdle.toFixed(0)} MiB | ≤ 100 MiB |`,
        `| gateway start-up peak (VmHWM before the connections) | ${rssBefore.toFixed(0)} MiB | – |`,
        `| gateway peak RSS (VmHWM), peer cache ${peerCache ? "on" : "off"}, ${peerPods} other pods | ${gatewayPeakRss.toFixed(0)} MiB (${rssWithConnections.toFixed(0)} MiB with all ${connections} open) | ≤ 256 MiB |`,
        ...(replacements === 0
          ? []
          : [
              `| failover, replacement Ready → first connection, p50 (${replacements} replacements) | ${report.failover.p50Seconds.toFixed(3)} s | – |`,
              `| failover p99 | ${report.failover.p99Seconds.toFixed(3)} s | < 2 s |`,
            ]),
        "",
      ].join("\n"),
    );
    return report;
  } finally {
    for (const socket of sockets) socket.destroy();
    echo.child.kill("SIGTERM");
    await plane.stop();
  }
}
