/**
 * What a benchmark runs is what users run: the CLI bundle of scripts/bundle.ts (the image's
 * entrypoint and the npm package's `dist/main.js`), not src/main.ts. Built once per benchmark
 * process into a temporary directory, with the preloaded probes compiled to JavaScript beside
 * it: a process under measurement strips no TypeScript, which alone holds about 17 MiB of RSS.
 * The image's own Node.js options (its Dockerfile's `ENV NODE_OPTIONS`) come with it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bundleCli, ESBUILD } from "../../scripts/bundle.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..");

let dir: string | undefined;

function workDir(): string {
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "tunnelkeeper-bench-shipped-"));
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
    dir = made;
  }
  return dir;
}

let cli: string | undefined;

/** The bundled CLI's path (an ES module, run as `node <path> <command> ...`). */
export function shippedCli(): string {
  cli ??= bundleCli({ out: join(workDir(), "tunnelkeeper.mjs"), format: "esm" });
  return cli;
}

const probes = new Map<string, string>();

/** `bench/support/<file>` (a probe that imports only Node's built-ins) as a JavaScript file for `--import`. */
export function compiledProbe(file: string): string {
  let compiled = probes.get(file);
  if (compiled === undefined) {
    compiled = join(workDir(), basename(file).replace(/\.ts$/, ".mjs"));
    execFileSync(
      ESBUILD,
      [join(import.meta.dirname, file), "--format=esm", "--platform=node", "--log-level=warning", `--outfile=${compiled}`],
      { stdio: "inherit" },
    );
    probes.set(file, compiled);
  }
  return compiled;
}

/** The Node.js options the image sets (its Dockerfile's `ENV NODE_OPTIONS="..."`); "" when it sets none. */
export function imageNodeOptions(): string {
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
  return /^ENV\s+NODE_OPTIONS="([^"]*)"\s*$/m.exec(dockerfile)?.[1] ?? "";
}
