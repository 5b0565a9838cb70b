// The packages under src/ form layers, and imports point down only: a package may import its own
// files and packages on a lower layer, never one on its own layer or above. This is the import
// graph README.md's layout table describes; a new package gets a layer here before it lands.
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { specifiersOf } from "../../support/import-specifiers.ts";

const SRC = join(import.meta.dirname, "..", "..", "..", "src");

/** Lowest first. Files directly in src/ (main.ts, config.ts) are the top and may import anything. */
const LAYERS: readonly (readonly string[])[] = [
  ["runtime", "api"],
  ["observability", "kube"],
  ["tunnel"],
  ["targets"],
  ["watch"],
  ["remote"],
  ["controller", "gateway"],
  ["commands"],
];

function layerOf(pkg: string): number {
  const layer = LAYERS.findIndex((names) => names.includes(pkg));
  return layer === -1 ? Number.POSITIVE_INFINITY : layer;
}

function packageOf(file: string): string | undefined {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

describe("src/ layering", () => {
  const files = globSync("**/*.ts", { cwd: SRC }).map((file) => join(SRC, file));

  it("gives every package a layer", () => {
    const packages = new Set(files.map(packageOf).filter((p): p is string => p !== undefined));
    const unplaced = [...packages].filter((p) => layerOf(p) === Number.POSITIVE_INFINITY);
    assert.deepEqual(unplaced, [], "add each new package under src/ to LAYERS");
  });

  it("imports only from lower layers", () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = packageOf(file);
      if (from === undefined) continue;
      for (const specifier of specifiersOf(readFileSync(file, "utf8"))) {
        if (!specifier.startsWith(".")) continue;
        const to = packageOf(resolve(dirname(file), specifier));
        if (to === undefined || to === from) continue;
        if (layerOf(to) >= layerOf(from)) upward.push(`${relative(SRC, file)} imports ${to}/ (${specifier})`);
      }
    }
    assert.deepEqual(upward, []);
  });
});
