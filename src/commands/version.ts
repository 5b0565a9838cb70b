/**
 * `tunnelkeeper version`: this package's version (from its package.json, next to src/ in the
 * repository, the image and the npm package alike; built in by the single executable) and the
 * Node.js runtime's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Set at bundle time in the single-executable build (scripts/build-sea.ts), which carries no
 * package.json; undefined everywhere else.
 */
declare const TUNNELKEEPER_BUNDLED_VERSION: string | undefined;

export function tunnelkeeperVersion(): string {
  if (typeof TUNNELKEEPER_BUNDLED_VERSION === "string") return TUNNELKEEPER_BUNDLED_VERSION;
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

export function printVersion(output: "" | "json"): void {
  const versions = { tunnelkeeper: tunnelkeeperVersion(), node: process.version };
  process.stdout.write(
    output === "json" ? `${JSON.stringify(versions)}\n` : `tunnelkeeper: v${versions.tunnelkeeper}\nNode.js: ${versions.node}\n`,
  );
}
