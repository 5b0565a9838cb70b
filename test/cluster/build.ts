/**
 * Builds the control plane's binaries from the Go modules under `tools/` into the cache folder
 * (see versions.ts), once per cache key. A cold build of the Kubernetes binaries takes a quarter
 * of an hour or more on two cores, so progress is printed while it runs.
 *
 * Each module is built into a temporary folder and renamed into place, so an interrupted build
 * never leaves a half-written binary that a later run would trust.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type Binaries,
  binaries,
  binDir,
  NODE_TOOL_MODULES,
  type NodeBinaries,
  nodeBinaries,
  nodeBinDir,
  TOOL_MODULES,
  type ToolModule,
} from "./versions.ts";

export type ProgressSink = (line: string) => void;

const PROGRESS_INTERVAL_MS = 30_000;

const stderrSink: ProgressSink = (line) => process.stderr.write(`${line}\n`);

/** Returns the control plane's binaries, building whatever is missing first. */
export async function ensureBinaries(progress: ProgressSink = stderrSink): Promise<Binaries> {
  return binaries(await ensureModules(TOOL_MODULES, binDir(), progress));
}

/** Returns the real node's binaries (kubelet, kube-proxy, kube-scheduler, CoreDNS), building whatever is missing. */
export async function ensureNodeBinaries(progress: ProgressSink = stderrSink): Promise<NodeBinaries> {
  return nodeBinaries(await ensureModules(NODE_TOOL_MODULES, nodeBinDir(), progress));
}

async function ensureModules(modules: readonly ToolModule[], dir: string, progress: ProgressSink): Promise<string> {
  mkdirSync(dir, { recursive: true });
  for (const mod of modules) {
    if (mod.binaries.every((name) => existsSync(join(dir, name)))) continue;
    await buildModule(mod, dir, progress);
  }
  return dir;
}

/**
 * Builds one Go tool module's packages into `dir` (through a staging folder renamed into place),
 * printing progress every 30 s; the error carries the tail of the compiler's output.
 */
export async function buildModule(mod: ToolModule, dir: string, progress: ProgressSink): Promise<void> {
  const staging = join(dir, `.build-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  const label = mod.binaries.join(", ");
  progress(`[cluster] building ${label} from ${mod.dir}; cold builds take minutes, progress every 30 s`);

  let compiled = 0;
  let lastPackage = "";
  // One package builds to an explicit file name (go would call etcd's `server`); several to a folder.
  const output = mod.packages.length === 1 ? join(staging, mod.binaries[0]!) : `${staging}/`;
  const args = ["build", "-v", "-trimpath", "-ldflags", mod.ldflags, "-o", output, ...mod.packages];
  const child = spawn("go", args, {
    cwd: mod.dir,
    env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const errorTail: string[] = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    compiled += 1;
    lastPackage = line;
    errorTail.push(line);
    if (errorTail.length > 40) errorTail.shift();
  });
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    progress(`[cluster]   ... ${label}: ${compiled} packages compiled in ${seconds}s (last: ${lastPackage})`);
  }, PROGRESS_INTERVAL_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  }).finally(() => clearInterval(ticker));

  if (code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`go build of ${label} failed (exit ${code}); last output:\n${errorTail.join("\n")}`);
  }
  for (const name of mod.binaries) renameSync(join(staging, name), join(dir, name));
  rmSync(staging, { recursive: true, force: true });
  progress(`[cluster] built ${label} in ${Math.round((Date.now() - started) / 1000)}s`);
}
