/**
 * Pods and namespaces for in-cluster tests beyond chart.test.ts: echo backends (busybox), client
 * pods of this checkout's image running test/in-cluster/pods/tcp-client.mjs, and the chart's
 * install arguments for the node's locally built image.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { apply, kubectl, podOutcome, RESTRICTED_CONTAINER, testNode } from "./real-node.ts";

export const RELEASE = "tunnelkeeper";
export const SYSTEM = "tunnelkeeper-system";
const CLIENT_SCRIPT = readFileSync(join(import.meta.dirname, "..", "in-cluster", "pods", "tcp-client.mjs"), "utf8");

/** Creates a namespace (name = prefix + random suffix, recorded in `created`) with the client script. */
export async function testNamespace(prefix: string, created: string[], labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${Math.random().toString(16).slice(2, 8)}`;
  await apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }]);
  created.push(name);
  await apply([
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "tcp-client", namespace: name }, data: { "tcp-client.mjs": CLIENT_SCRIPT } },
  ]);
  return name;
}

export function installArgs(extra: readonly string[] = []): string[] {
  const node = testNode();
  return [
    "--namespace",
    SYSTEM,
    "--set",
    `image.repository=${node.images.appRepository}`,
    "--set",
    `image.tag=${node.images.appTag}`,
    "--set",
    "image.pullPolicy=Never",
    ...extra,
  ];
}

/** A Deployment of `replicas` busybox echo pods (label app=echo) on port 9000. */
export function echoDeployment(namespace: string, replicas = 2) {
  const container = {
    name: "echo",
    image: testNode().images.tools,
    imagePullPolicy: "Never",
    command: ["/bin/nc", "-ll", "-p", "9000", "-e", "/bin/cat"],
    ports: [{ name: "echo", containerPort: 9000 }],
    readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1 },
    securityContext: RESTRICTED_CONTAINER,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "echo", namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: "echo" } },
      template: { metadata: { labels: { app: "echo" } }, spec: { terminationGracePeriodSeconds: 1, containers: [container] } },
    },
  };
}

export function clientPod(namespace: string, name: string, args: readonly string[]) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { role: "client" } },
    spec: {
      restartPolicy: "Never",
      containers: [
        {
          name: "client",
          image: testNode().images.app,
          imagePullPolicy: "Never",
          command: ["node", "/scripts/tcp-client.mjs", ...args],
          volumeMounts: [{ name: "scripts", mountPath: "/scripts" }],
          securityContext: RESTRICTED_CONTAINER,
        },
      ],
      volumes: [{ name: "scripts", configMap: { name: "tcp-client" } }],
    },
  };
}

/** Runs a client pod to its end; resolves its phase and parsed JSON lines. */
export async function runClient(
  namespace: string,
  name: string,
  args: readonly string[],
): Promise<{ phase: string; lines: Record<string, unknown>[] }> {
  await kubectl(["delete", "pod", "-n", namespace, name, "--ignore-not-found", "--wait=true"]);
  await apply([clientPod(namespace, name, args)]);
  const { phase, logs } = await podOutcome(namespace, name, 300_000);
  return { phase, lines: parseLines(logs) };
}

export function parseLines(logs: string): Record<string, unknown>[] {
  return logs
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface StreamReport {
  readonly total: number;
  readonly failed: number;
  /** The first few failures' errors. */
  readonly failures: string[];
  /** Longest time between two successful connection starts, in ms (how long new connections had no way through). */
  readonly longestGapMs: number;
}

/** Sums up the lines of a `tcp-client.mjs stream` run. */
export function streamReport(lines: Record<string, unknown>[]): StreamReport {
  const sorted = [...lines].sort((a, b) => Number(a.at) - Number(b.at));
  const ok = sorted.filter((l) => l.ok).map((l) => Number(l.at));
  let longestGapMs = 0;
  for (let i = 1; i < ok.length; i++) longestGapMs = Math.max(longestGapMs, ok[i]! - ok[i - 1]!);
  const failed = sorted.filter((l) => !l.ok);
  return { total: sorted.length, failed: failed.length, failures: failed.slice(0, 5).map((l) => String(l.error)), longestGapMs };
}
