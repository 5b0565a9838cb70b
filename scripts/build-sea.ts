/**
 * Builds `tunnelkeeper` as one self-contained Linux x64 executable (Node.js single executable
 * application): no Node.js install and no node_modules needed on the laptop.
 *
 *   npm run build:sea [-- --out FILE]      (default dist-sea/tunnelkeeper)
 *
 * Node's SEA runs one CommonJS script with only built-in modules, so the CLI and its three
 * dependencies are bundled into one file first (scripts/bundle.ts, as CommonJS), then blessed into
 * a copy of the Node binary the project runs on (`node --experimental-sea-config` makes the blob,
 * postject injects it).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundleCli } from "./bundle.ts";

const ROOT = join(import.meta.dirname, "..");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

function bin(name: string): string {
  return join(ROOT, "node_modules", ".bin", name);
}

export function buildSea(out: string): string {
  const work = join(dirname(out), ".sea-build");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bundle = bundleCli({ out: join(work, "tunnelkeeper.cjs"), format: "cjs" });
  const blob = join(work, "sea-prep.blob");
  const config = join(work, "sea-config.json");
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false }));
  execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: "inherit" });
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  // postject warns about ELF note sections it does not name; only a failure's output matters.
  execFileSync(bin("postject"), [out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SENTINEL_FUSE], { stdio: "pipe" });
  rmSync(work, { recursive: true, force: true });
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string", default: join(ROOT, "dist-sea", "tunnelkeeper") } } });
  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  buildSea(out);
  process.stdout.write(`${out}\n`);
}
