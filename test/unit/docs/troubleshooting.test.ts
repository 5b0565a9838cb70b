// docs/troubleshooting.md has one table row per condition reason of the API, with exactly
// the reasons of src/api/conditions.ts, so a new reason cannot ship undocumented.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { Reason } from "../../../src/api/conditions.ts";

const DOC = join(import.meta.dirname, "..", "..", "..", "docs", "troubleshooting.md");

it("docs/troubleshooting.md has a row for every condition reason and for no other", () => {
  const rows = readFileSync(DOC, "utf8")
    .split("\n")
    .map((line) => /^\| `([A-Za-z]+)`( \(Stalled\))? \|/.exec(line)?.[1])
    .filter((reason): reason is string => reason !== undefined);
  assert.deepEqual([...rows].sort(), [...new Set(Object.values(Reason))].sort());
});

it("marks as Stalled exactly the reasons the Argo CD health check reports as Degraded", () => {
  const stalled = readFileSync(DOC, "utf8")
    .split("\n")
    .map((line) => /^\| `([A-Za-z]+)` \(Stalled\) \|/.exec(line)?.[1])
    .filter((reason): reason is string => reason !== undefined);
  const lua = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "argocd", "health.lua"), "utf8");
  const table = /local needsPerson = \{([^}]*)\}/.exec(lua)?.[1] ?? "";
  const degraded = [...table.matchAll(/(\w+) = true/g)].map((m) => m[1]);
  assert.deepEqual(stalled.sort(), degraded.sort());
});
