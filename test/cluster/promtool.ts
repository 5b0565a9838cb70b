/**
 * Builds promtool (and promql-names, a small helper on Prometheus's own PromQL parser) from the
 * Go module in `tools/prometheus` into the cache folder, once per version and go.sum.
 *
 * The suite uses them to check the components' real `/metrics` output (`promtool check
 * metrics`), to unit-test the chart's alerts (`promtool test rules`) and to list the metrics
 * each dashboard query selects. A cold build compiles a few hundred packages (Prometheus's
 * service-discovery plugins come with promtool), so progress is printed every 30 s.
 *
 * The build itself is build.ts's (a staging folder renamed into place, progress every 30 s); a
 * lock folder makes test files that need the tools at the same time wait for one build.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildModule, type ProgressSink } from "./build.ts";
import { cacheRoot, TOOLS_DIR } from "./versions.ts";

/** Prometheus 3.16.0 (Go module versions are v0.3XX.Y for Prometheus 3.XX.Y). */
export const PROMETHEUS_MODULE_VERSION = "v0.316.0";

const MODULE_DIR = join(TOOLS_DIR, "prometheus");
const PACKAGES = ["github.com/prometheus/prometheus/cmd/promtool", "./promql-names"];
const BINARIES = ["promtool", "promql-names"] as const;
const LDFLAGS = [
  "-s",
  "-w",
  `-X github.com/prometheus/common/version.Version=${PROMETHEUS_MODULE_VERSION.replace(/^v0\.(\d)(\d\d)\./, "$1.$2.")}`,
].join(" ");
/** A lock older than this belongs to a build that died; a cold build takes minutes, not this. */
const STALE_LOCK_MS = 30 * 60_000;

export interface PrometheusTools {
  readonly dir: string;
  readonly promtool: string;
  readonly promqlNames: string;
}

const stderrSink: ProgressSink = (line) => process.stderr.write(`${line}\n`);

/** The folder holding this exact build (version + go.mod/go.sum + ldflags). */
export function prometheusBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const hash = createHash("sha256");
  hash.update(readFileSync(join(MODULE_DIR, "go.mod")));
  hash.update(readFileSync(join(MODULE_DIR, "go.sum")));
  hash.update(readFileSync(join(MODULE_DIR, "promql-names", "main.go")));
  hash.update(PACKAGES.join(" "));
  hash.update(LDFLAGS);
  return join(cacheRoot(env), "prometheus-bin", `prometheus-${PROMETHEUS_MODULE_VERSION}_${hash.digest("hex").slice(0, 12)}`);
}

function tools(dir: string): PrometheusTools {
  return { dir, promtool: join(dir, "promtool"), promqlNames: join(dir, "promql-names") };
}

function built(dir: string): boolean {
  return BINARIES.every((name) => existsSync(join(dir, name)));
}

/** Returns promtool and promql-names, building them first if this machine has none cached. */
export async function ensurePrometheusTools(progress: ProgressSink = stderrSink): Promise<PrometheusTools> {
  const dir = prometheusBinDir();
  if (built(dir)) return tools(dir);
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, ".lock");
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      else await sleep(1000);
      if (built(dir)) return tools(dir);
    }
  }
  try {
    if (!built(dir)) await build(dir, progress);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return tools(dir);
}

async function build(dir: string, progress: ProgressSink): Promise<void> {
  progress(`[cluster] Prometheus ${PROMETHEUS_MODULE_VERSION} for promtool (its service-discovery plugins come along)`);
  await buildModule({ dir: MODULE_DIR, packages: PACKAGES, binaries: BINARIES, ldflags: LDFLAGS }, dir, progress);
}

if (import.meta.main) {
  const { promtool, promqlNames } = await ensurePrometheusTools();
  process.stdout.write(`PROMTOOL=${promtool}\nPROMQL_NAMES=${promqlNames}\n`);
}
