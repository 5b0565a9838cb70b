/**
 * Runs the built `kubectl port-forward` as a child process, the reference peer for interop
 * tests and benchmarks. Resolves once kubectl says which local port it listens on.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface KubectlPortForward {
  readonly localPort: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export interface KubectlPortForwardOptions {
  readonly kubectl: string;
  readonly kubeconfig: string;
  readonly namespace: string;
  /** e.g. `pod/echo` or `service/web`. */
  readonly resource: string;
  readonly remotePort: number;
  /** false forces the legacy SPDY upgrade (KUBECTL_PORT_FORWARD_WEBSOCKETS=false). */
  readonly websockets?: boolean;
}

export function startKubectlPortForward(options: KubectlPortForwardOptions): Promise<KubectlPortForward> {
  const child = spawn(
    options.kubectl,
    [
      "--kubeconfig",
      options.kubeconfig,
      "port-forward",
      "-n",
      options.namespace,
      "--address",
      "127.0.0.1",
      options.resource,
      `:${options.remotePort}`,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: options.websockets === false ? "false" : "true" },
    },
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  };
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      output.push(line);
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(line);
      if (match) resolve({ localPort: Number(match[1]), child, stop });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`kubectl port-forward exited (${code}) before listening:\n${output.join("\n")}`)));
  });
}
