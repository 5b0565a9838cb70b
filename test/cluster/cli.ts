/**
 * `npm run cluster -- <command>`: the test control plane for humans and scripts.
 *
 *   up [--node] [--name NAME]
 *          start it in the background (building binaries first if needed); prints
 *          KUBECONFIG=, KUBECONFIG_UNPRIVILEGED=, KUBECTL=, HELM= lines on stdout and exits 0
 *          when ready. With --node it also starts a real node (node.ts) and prints NODE=,
 *          IMAGE= (this checkout's image, already on the node), IMAGE_REPOSITORY=, IMAGE_TAG= and
 *          TOOLS_IMAGE= (busybox: sh, nc, httpd); pods use `imagePullPolicy: Never`.
 *          Running `up` again while it is up prints the same lines (adding the node if asked).
 *   pod [--name NAME] <namespace>/<name> --port <podPort>=<host>:<port> [--port ...] [--label k=v]...
 *          create a KWOK pod whose port-forward reaches host:port; waits until Ready.
 *   down [--name NAME]
 *          stop everything `up` started (the node first) and remove its files; the host's
 *          network namespaces, mounts, cgroups, routes and rules are as they were before `up`.
 *
 * --name (default `default`) picks an independent cluster: each name has its own control plane,
 * node and state file, so two can run side by side. Progress and errors go to stderr, so stdout
 * stays machine-readable.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { type ControlPlaneState, startControlPlane, stopDetached } from "./control-plane.ts";
import { isAlive } from "./managed-process.ts";
import { type NodeState, startNode, stopNode } from "./node.ts";
import { createBackedPod, type PodPortMapping } from "./pods.ts";
import { cacheRoot } from "./versions.ts";

interface ClusterRecord {
  readonly plane: ControlPlaneState;
  node?: NodeState;
}

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

function stateFile(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new Error(`--name must be lower-case letters, digits and '-' (at most 32), got "${name}"`);
  return join(cacheRoot(), "run", `cluster-${name}.json`);
}

function readRecord(name: string): ClusterRecord | undefined {
  const file = stateFile(name);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ClusterRecord;
}

function writeRecord(name: string, record: ClusterRecord): void {
  mkdirSync(join(cacheRoot(), "run"), { recursive: true });
  writeFileSync(stateFile(name), `${JSON.stringify(record, null, 2)}\n`);
}

function readState(name: string): ControlPlaneState | undefined {
  return readRecord(name)?.plane;
}

function isRunning(state: ControlPlaneState): boolean {
  return ["etcd", "kube-apiserver", "kwok"].every((name) => state.pids[name] !== undefined && isAlive(state.pids[name]!));
}

function printAccess(record: ClusterRecord): void {
  const { plane, node } = record;
  const lines = [
    `KUBECONFIG=${plane.kubeconfig}`,
    `KUBECONFIG_UNPRIVILEGED=${plane.unprivilegedKubeconfig}`,
    `KUBECTL=${plane.kubectl}`,
    `HELM=${plane.helm}`,
    ...(node
      ? [
          `NODE=${node.name}`,
          `IMAGE=${node.images.app}`,
          `IMAGE_REPOSITORY=${node.images.appRepository}`,
          `IMAGE_TAG=${node.images.appTag}`,
          `TOOLS_IMAGE=${node.images.tools}`,
        ]
      : []),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function nodeRunning(node: NodeState): boolean {
  return ["containerd", "kubelet", "kube-proxy"].every((name) => node.pids[name] !== undefined && isAlive(node.pids[name]!));
}

async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { node: { type: "boolean", default: false }, name: { type: "string", default: "default" } },
  });
  const name = values.name;
  let record = readRecord(name);
  if (record && !isRunning(record.plane)) {
    await stopRecord(record);
    record = undefined;
  }
  if (!record) {
    const plane = await startControlPlane({ detached: true });
    record = { plane: plane.state };
    writeRecord(name, record);
  }
  if (values.node && record.node && !nodeRunning(record.node)) {
    await stopNode(record.node);
    record.node = undefined;
  }
  if (values.node && !record.node) {
    record.node = await startNode(record.plane);
    writeRecord(name, record);
  }
  printAccess(record);
}

async function stopRecord(record: ClusterRecord): Promise<void> {
  if (record.node) await stopNode(record.node, (line) => process.stderr.write(`${line}\n`));
  await stopDetached(record.plane);
}

async function down(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { name: { type: "string", default: "default" } } });
  const record = readRecord(values.name);
  if (!record) {
    process.stderr.write(`[cluster] nothing to stop (no cluster named ${values.name})\n`);
    return;
  }
  await stopRecord(record);
  rmSync(stateFile(values.name), { force: true });
  process.stderr.write("[cluster] stopped\n");
}

export function parsePortMapping(text: string): PodPortMapping {
  const match = /^(\d+)=(.+):(\d+)$/.exec(text);
  if (!match) throw new Error(`--port must be <podPort>=<host>:<port>, got "${text}"`);
  return { podPort: Number(match[1]), host: match[2]!, port: Number(match[3]) };
}

async function pod(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: "string", multiple: true },
      label: { type: "string", multiple: true },
      name: { type: "string", default: "default" },
    },
  });
  const [ref] = positionals;
  const [namespace, name] = ref?.split("/") ?? [];
  if (!namespace || !name) throw new Error("usage: pod <namespace>/<name> --port <podPort>=<host>:<port> [--label k=v]...");
  const ports = (values.port ?? []).map(parsePortMapping);
  if (ports.length === 0) throw new Error("at least one --port <podPort>=<host>:<port> is required");
  const labels = Object.fromEntries(
    (values.label ?? []).map((l) => {
      const i = l.indexOf("=");
      if (i <= 0) throw new Error(`--label must be k=v, got "${l}"`);
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
  const state = readState(values.name);
  if (!state || !isRunning(state))
    throw new Error(`the control plane "${values.name}" is not running: run \`npm run cluster -- up --name ${values.name}\` first`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(state.kubeconfig);
  await createBackedPod(kubeConfig, { namespace, name, ports, labels });
  process.stdout.write(`pod/${name} ready in namespace ${namespace}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up":
      return up(rest);
    case "down":
      return down(rest);
    case "pod":
      return pod(rest);
    default:
      throw new Error(
        "usage: npm run cluster -- up [--node] [--name NAME] | down [--name NAME] | pod [--name NAME] <namespace>/<name> --port <podPort>=<host>:<port> [--label k=v]",
      );
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`[cluster] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
