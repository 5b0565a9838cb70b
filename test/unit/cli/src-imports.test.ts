// src/ is the product (the image and the npm package ship it alone): it must import nothing
// from test/, bench/, dev/ or scripts/, and no package but the production dependencies.
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { specifiersOf } from "../../support/import-specifiers.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const SRC = join(ROOT, "src");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

const files = globSync("**/*.ts", { cwd: SRC }).map((file) => join(SRC, file));

describe("src/ imports", () => {
  it("finds the specifiers of every import form", () => {
    const found = specifiersOf(
      'import a from "./a.ts";\nimport type { B } from "../b.ts";\nexport { c } from "./c.ts";\nimport "./side.ts";\nconst d = await import("../../test/cluster/pods.ts");\n',
    );
    assert.deepEqual(found.sort(), ["../../test/cluster/pods.ts", "../b.ts", "./a.ts", "./c.ts", "./side.ts"]);
  });

  it("never reach outside src/ (no test/, bench/, dev/ or scripts/ at run time)", () => {
    assert.ok(files.length > 50, `expected the source tree under ${SRC}, found ${files.length} files`);
    const outside: string[] = [];
    for (const file of files) {
      for (const specifier of specifiersOf(readFileSync(file, "utf8"))) {
        if (!specifier.startsWith(".")) continue;
        const target = relative(SRC, resolve(dirname(file), specifier));
        if (target.startsWith("..")) outside.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  it("use only Node.js built-ins and production dependencies", () => {
    const allowed = new Set(Object.keys(pkg.dependencies));
    const bad: string[] = [];
    for (const file of files) {
      for (const specifier of specifiersOf(readFileSync(file, "utf8"))) {
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
        if (!allowed.has(packageName(specifier))) bad.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
