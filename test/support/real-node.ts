/**
 * What an in-cluster test (test/in-cluster/) needs of the suite's real node: its state (name,
 * the image of this checkout, the tools image), kubectl and helm as the admin, and client pods
 * that run a script and hand back their output.
 *
 * The suite runner starts the node for the in-cluster phase and passes its state file in
 * `TUNNELKEEPER_TEST_NODE`; without it a test fails with a message saying how to run it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { NodeState } from "../cluster/node.ts";
import { testCluster } from "./cluster.ts";
import { type CommandResult, runCommand } from "./run-command.ts";

let cached: NodeState | undefined;

export function testNode(): NodeState {
  if (cached) return cached;
  const file = process.env.TUNNELKEEPER_TEST_NODE;
  if (!file)
    throw new Error("no real node: in-cluster tests run in the in-cluster phase of `npm test` (test/run-suite.ts), which starts one");
  cached = JSON.parse(readFileSync(file, "utf8")) as NodeState;
  return cached;
}

/** kubectl as the admin; throws with stderr on a non-zero exit. */
export async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const result = await kubectlResult(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

export function kubectlResult(args: readonly string[], input?: string): Promise<CommandResult> {
  const cluster = testCluster();
  return runCommand(cluster.kubectl, ["--kubeconfig", cluster.state.kubeconfig, ...args], input);
}

export async function helm(args: readonly string[]): Promise<string> {
  const cluster = testCluster();
  const result = await runCommand(cluster.state.helm, ["--kubeconfig", cluster.state.kubeconfig, ...args]);
  if (result.code !== 0) throw new Error(`helm ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Applies objects given as JavaScript values (server-side apply as the test's field manager). */
export async function apply(objects: readonly object[]): Promise<void> {
  await kubectl(
    ["apply", "--server-side", "--field-manager=in-cluster-test", "-f", "-"],
    objects.map((o) => JSON.stringify(o)).join("\n---\n"),
  );
}

export const CHART_DIR = join(import.meta.dirname, "..", "..", "charts", "tunnelkeeper");

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(500);
  }
  throw new Error(
    `${what} did not happen within ${timeoutMs / 1000}s${lastError ? `: ${lastError instanceof Error ? lastError.message : lastError}` : ""}`,
  );
}

export interface PodRun {
  readonly phase: string;
  readonly logs: string;
}

/** Waits for a pod to end (Succeeded or Failed) and returns its phase and logs. */
export async function podOutcome(namespace: string, name: string, timeoutMs = 180_000): Promise<PodRun> {
  const phase = await eventually(
    `pod ${namespace}/${name} to finish`,
    async () => {
      const value = await kubectl(["get", "pod", "-n", namespace, name, "-o", "jsonpath={.status.phase}"]);
      return value === "Succeeded" || value === "Failed" ? value : undefined;
    },
    timeoutMs,
  );
  return { phase, logs: await kubectl(["logs", "-n", namespace, name]) };
}

/** Current logs of a running pod (empty while it starts). */
export async function podLogs(namespace: string, name: string): Promise<string> {
  const result = await kubectlResult(["logs", "-n", namespace, name]);
  return result.code === 0 ? result.stdout : "";
}

/** The security context every test pod runs with: what the restricted Pod Security level asks. */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: 65532,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};
