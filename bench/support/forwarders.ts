/**
 * The two forwarders the tunnel benchmark compares, as child processes: `tunnelkeeper forward`
 * and the `kubectl port-forward` built from the same Kubernetes version. Both print
 * "Forwarding from 127.0.0.1:LOCAL -> REMOTE" per port; we wait for every port's line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { compiledProbe, shippedCli } from "./shipped.ts";

export interface RunningForwarder {
  readonly name: string;
  readonly pid: number;
  /** remote port → local port */
  readonly ports: ReadonlyMap<number, number>;
  /** Lines the forwarder printed so far (stdout and stderr). */
  readonly output: readonly string[];
  stop(): Promise<void>;
}

export interface ForwarderTarget {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly resource: string;
  readonly remotePorts: readonly number[];
}

function launch(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  remotePorts: readonly number[],
): Promise<RunningForwarder> {
  const child: ChildProcess = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const ports = new Map<number, number>();
  const output: string[] = [];
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  };
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      output.push(line);
      const match = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/.exec(line);
      if (!match) return;
      ports.set(Number(match[2]), Number(match[1]));
      if (remotePorts.every((p) => ports.has(p))) resolve({ name, pid: child.pid ?? 0, ports, output, stop });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}) before listening:\n${output.join("\n")}`)));
  });
}

export interface TunnelkeeperForwardOptions {
  /** Run node with `--cpu-prof` and write the profile here when the forwarder stops. */
  readonly cpuProfDir?: string | undefined;
  /** More node command-line options for the forwarder (e.g. `--trace-gc`). */
  readonly nodeOptions?: readonly string[];
  /** Preload forwarder-probe.ts and write its JSON (connection timings, GCs, loop delay) here at exit. */
  readonly probeFile?: string | undefined;
}

export function startTunnelkeeperForward(target: ForwarderTarget, options: TunnelkeeperForwardOptions = {}): Promise<RunningForwarder> {
  const profile = options.cpuProfDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.cpuProfDir];
  return launch(
    "tunnelkeeper",
    process.execPath,
    [
      ...profile,
      ...(options.nodeOptions ?? []),
      ...(options.probeFile === undefined ? [] : ["--import", compiledProbe("forwarder-probe.ts")]),
      shippedCli(),
      "forward",
      target.resource,
      ...target.remotePorts.map((p) => `:${p}`),
      "-n",
      target.namespace,
      "--kubeconfig",
      target.kubeconfig,
      "--log-level",
      "warn",
    ],
    options.probeFile === undefined ? {} : { TK_BENCH_PROBE_FILE: options.probeFile },
    target.remotePorts,
  );
}

export function startKubectlPortForward(kubectl: string, target: ForwarderTarget): Promise<RunningForwarder> {
  return launch(
    "kubectl",
    kubectl,
    [
      "--kubeconfig",
      target.kubeconfig,
      "port-forward",
      "-n",
      target.namespace,
      "--address",
      "127.0.0.1",
      target.resource,
      ...target.remotePorts.map((p) => `:${p}`),
    ],
    { KUBECTL_PORT_FORWARD_WEBSOCKETS: "true" },
    target.remotePorts,
  );
}
