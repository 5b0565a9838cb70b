// node:http's values come from runtime/node-http.ts, never from an ES import: the import's module
// facade loads Node's bundled undici (13 MiB of RSS) through node:http's lazy getters.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { globSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";

const SRC = join(import.meta.dirname, "..", "..", "..", "src");

describe("node:http", () => {
  it("is imported for its types only; its values come from runtime/node-http.ts", () => {
    const offenders: string[] = [];
    for (const file of globSync("**/*.ts", { cwd: SRC }).map((name) => join(SRC, name))) {
      for (const match of readFileSync(file, "utf8").matchAll(/import\s+(type\s+)?([^;]*?)\s+from\s+"node:http";/g)) {
        const typeOnly =
          match[1] !== undefined ||
          (/^\{[^}]*\}$/.test(match[2]!) &&
            match[2]!
              .slice(1, -1)
              .split(",")
              .every((name) => name.trim().startsWith("type ") || name.trim() === ""));
        if (!typeOnly) offenders.push(`${relative(SRC, file)}: ${match[0]}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it("leaves Node's bundled undici unloaded in the operator's and the forwarder's modules", () => {
    const script = `
      await import(${JSON.stringify(new URL("../../../src/commands/operator.ts", import.meta.url).href)});
      await import(${JSON.stringify(new URL("../../../src/commands/forward.ts", import.meta.url).href)});
      console.log(JSON.stringify(process.moduleLoadList.filter((name) => name.includes("undici"))));`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(output), []);
  });
});
