/**
 * `npm run cluster -- <command>`: the test control plane for humans and scripts.
 *
 *   up     start it in the background (building binaries first if needed); prints
 *          KUBECONFIG=, KUBECONFIG_UNPRIVILEGED=, KUBECTL=, HELM= lines on stdout and exits 0
 *          when ready. Running `up` again while it is up prints the same lines.
 *   pod <namespace>/<name> --port <podPort>=<host>:<port> [--port ...] [--label k=v]...
 *          create a KWOK pod whose port-forward reaches host:port; waits until Ready.
 *   down   stop everything `up` started and remove its files.
 *
 * Progress and errors go to stderr, so stdout stays machine-readable.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { type ControlPlaneState, startControlPlane, stopDetached } from "./control-plane.ts";
import { isAlive } from "./managed-process.ts";
import { createBackedPod, type PodPortMapping } from "./pods.ts";
import { cacheRoot } from "./versions.ts";

const STATE_FILE = join(cacheRoot(), "run", "cluster.json");

function readState(): ControlPlaneState | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, "utf8")) as ControlPlaneState;
}

function isRunning(state: ControlPlaneState): boolean {
  return ["etcd", "kube-apiserver", "kwok"].every((name) => state.pids[name] !== undefined && isAlive(state.pids[name]!));
}

function printAccess(state: ControlPlaneState): void {
  process.stdout.write(
    `KUBECONFIG=${state.kubeconfig}\nKUBECONFIG_UNPRIVILEGED=${state.unprivilegedKubeconfig}\nKUBECTL=${state.kubectl}\nHELM=${state.helm}\n`,
  );
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing && isRunning(existing)) {
    printAccess(existing);
    return;
  }
  if (existing) await stopDetached(existing);
  const plane = await startControlPlane({ detached: true });
  mkdirSync(join(cacheRoot(), "run"), { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(plane.state, null, 2)}\n`);
  printAccess(plane.state);
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    process.stderr.write("[cluster] nothing to stop\n");
    return;
  }
  await stopDetached(state);
  rmSync(STATE_FILE, { force: true });
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
    options: { port: { type: "string", multiple: true }, label: { type: "string", multiple: true } },
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
  const state = readState();
  if (!state || !isRunning(state)) throw new Error("the control plane is not running: run `npm run cluster -- up` first");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(state.kubeconfig);
  await createBackedPod(kubeConfig, { namespace, name, ports, labels });
  process.stdout.write(`pod/${name} ready in namespace ${namespace}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up":
      return up();
    case "down":
      return down();
    case "pod":
      return pod(rest);
    default:
      throw new Error(`usage: npm run cluster -- up | down | pod <namespace>/<name> --port <podPort>=<host>:<port> [--label k=v]`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`[cluster] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
