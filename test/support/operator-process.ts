/**
 * Runs `tunnelkeeper controller|gateway|run` as a real child process against the suite's
 * control plane, the way a cluster runs it, and offers what end-to-end tests need: its metrics
 * URL, its JSON log lines, and a graceful (SIGTERM) or abrupt (SIGKILL) stop.
 *
 * Every process gets its own metrics port (`--metrics-bind-address 127.0.0.1:0` is resolved from
 * the "Starting" log line) and, for gateways, its own POD_NAME and loopback listen address so two
 * replicas can run side by side (127.0.0.2, 127.0.0.3, ... are all loopback on Linux).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import { ensureNamespace } from "../cluster/pods.ts";
import { freePort } from "../cluster/probes.ts";
import type { TestCluster } from "./cluster.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(REPO_ROOT, "src", "main.ts");

export interface OperatorProcessOptions {
  readonly command: "controller" | "gateway" | "run";
  readonly kubeconfig: string;
  /** Extra CLI flags, e.g. ["--leader-elect"]. */
  readonly args?: readonly string[];
  /** Gateway identity (POD_NAME); default a unique name. */
  readonly podName?: string;
  /** Namespace of gateway heartbeats / leader Lease (POD_NAMESPACE); default tunnelkeeper-system. */
  readonly podNamespace?: string;
  readonly podIP?: string;
  /** Loopback address the gateway listens on; default 127.0.0.1. */
  readonly listenHost?: string;
  /** The CLI to run; default src/main.ts. Benchmarks run the shipped bundle (bench/support/shipped.ts). */
  readonly entry?: string;
  /** argv before `node ...`, e.g. to start inside a memory cgroup (bench/support/memory-limit.ts). */
  readonly launchPrefix?: readonly string[];
  /** Extra environment variables for the child (e.g. NODE_OPTIONS for a benchmark's preloaded probe). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly podName: string;
  readonly metricsUrl: string;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** SIGTERM and wait for exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
  metrics(): Promise<string>;
}

let counter = 0;

export async function startOperatorProcess(options: OperatorProcessOptions, t?: TestContext): Promise<OperatorProcess> {
  counter += 1;
  const podName = options.podName ?? `${options.command}-${process.pid}-${counter}`;
  const metricsPort = await freePort();
  const args = [
    options.entry ?? MAIN,
    options.command,
    "--kubeconfig",
    options.kubeconfig,
    "--metrics-bind-address",
    `127.0.0.1:${metricsPort}`,
    ...(options.command === "controller" ? [] : ["--listen-host", options.listenHost ?? "127.0.0.1", "--drain-timeout", "5s"]),
    ...(options.args ?? []),
  ];
  const [launcher, ...launcherArgs] = [...(options.launchPrefix ?? []), process.execPath];
  const child = spawn(launcher!, [...launcherArgs, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      POD_NAME: podName,
      POD_NAMESPACE: options.podNamespace ?? "tunnelkeeper-system",
      POD_IP: options.podIP ?? "",
      KUBECONFIG: "",
      ...options.env,
    },
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const handle: OperatorProcess = {
    child,
    podName,
    metricsUrl,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    async metrics() {
      const response = await fetch(metricsUrl);
      return response.text();
    },
  };
  t?.after(async () => {
    await handle.kill();
  });
  // Ready when the health endpoint answers /readyz.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(
        `tunnelkeeper ${options.command} exited with ${child.exitCode}:\n${stderr.join("\n")}\n${JSON.stringify(logs.slice(-10))}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await handle.kill();
      throw new Error(`tunnelkeeper ${options.command} not ready within 30 s:\n${stderr.join("\n")}\n${JSON.stringify(logs.slice(-10))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle;
}

/**
 * Applies the PortForward CRD from crds/ and creates the gateway namespace (idempotent; safe
 * from concurrent test files).
 */
export async function installCrd(cluster: TestCluster): Promise<void> {
  const { kubectl } = cluster;
  const { kubeconfig } = cluster.state;
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(kubectl, ["--kubeconfig", kubeconfig, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`kubectl ${args.join(" ")}: ${err}`))));
    });
  await run(["apply", "--server-side", "--force-conflicts", "-f", join(REPO_ROOT, "crds")]);
  await run(["wait", "--for=condition=Established", "--timeout=60s", "crd/portforwards.tunnelkeeper.io"]);
  await ensureNamespace(cluster.admin, "tunnelkeeper-system");
}
