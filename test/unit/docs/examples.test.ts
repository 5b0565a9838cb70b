// Every PortForward in examples/ is valid by the API's own zod schema (the source of the CRD);
// the only other documents are the Secrets a remote-cluster example needs. Together the examples
// cover every target kind.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { parsePortForward } from "../../../src/api/portforward.ts";

const EXAMPLES = join(import.meta.dirname, "..", "..", "..", "examples");
const files = readdirSync(EXAMPLES)
  .filter((name) => name.endsWith(".yaml"))
  .sort();

function load(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(EXAMPLES, file), "utf8")).map((doc) => {
    assert.deepEqual(doc.errors, [], `${file} does not parse`);
    return doc.toJS();
  });
}

describe("examples/", () => {
  for (const file of files) {
    it(`${file} is a valid PortForward with comments`, () => {
      const all = load(file) as { kind?: string }[];
      const docs = all.filter((doc) => doc.kind !== "Secret");
      assert.ok(docs.length > 0, `${file} has no PortForward`);
      for (const doc of docs) {
        const result = parsePortForward(doc);
        assert.ok(result.ok, `${file}: ${result.ok ? "" : JSON.stringify(result.error.issues, null, 2)}`);
      }
      assert.match(readFileSync(join(EXAMPLES, file), "utf8"), /^# /, `${file} starts without an explanatory comment`);
    });
  }

  it("cover pod, selector, service and workload (Deployment and StatefulSet) targets", () => {
    const covered = new Set<string>();
    for (const file of files) {
      for (const doc of load(file)) {
        const result = parsePortForward(doc);
        if (!result.ok) continue;
        const target = result.value.spec.target;
        if (target.pod !== undefined) covered.add("pod");
        if (target.selector !== undefined) covered.add("selector");
        if (target.service !== undefined) covered.add("service");
        if (target.workload !== undefined) covered.add(`workload/${target.workload.kind}`);
      }
    }
    for (const kind of ["pod", "selector", "service", "workload/Deployment", "workload/StatefulSet"]) {
      assert.ok(covered.has(kind), `no example for ${kind}`);
    }
  });
});
