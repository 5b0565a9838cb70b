import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { CRD_FILE, renderCrdYaml } from "../../../scripts/generate-crds.ts";
import { buildCrd, type JsonSchema, toStructuralSchema } from "../../../src/api/crd.ts";

type Node = JsonSchema & { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node };

function walk(node: Node, path: string, visit: (node: Node, path: string) => void): void {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object") walk(node.additionalProperties, `${path}{}`, visit);
}

function openApiSchema(): Node {
  const crd = buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

describe("generated CRD", () => {
  it("matches the committed crds/tunnelkeeper.io_portforwards.yaml (run: node scripts/generate-crds.ts)", () => {
    assert.equal(readFileSync(CRD_FILE, "utf8"), renderCrdYaml());
  });

  it("round-trips through YAML unchanged", () => {
    assert.deepEqual(parse(renderCrdYaml()), buildCrd());
  });

  it("describes every field so kubectl explain documents it", () => {
    const missing: string[] = [];
    walk(openApiSchema(), "", (node, path) => {
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        if (name !== "metadata" && typeof child.description !== "string") missing.push(`${path}.${name}`);
      }
    });
    assert.deepEqual(missing, []);
  });

  it("is structural: every node has a type, except int-or-string", () => {
    const untyped: string[] = [];
    walk(openApiSchema(), "", (node, path) => {
      if (node.type === undefined && node["x-kubernetes-int-or-string"] !== true) untyped.push(path);
    });
    assert.deepEqual(untyped, []);
  });

  it("bounds every list and string that a CEL rule iterates, so the cost estimate stays within budget", () => {
    const spec = openApiSchema().properties!.spec!;
    const unbounded: string[] = [];
    walk(spec, ".spec", (node, path) => {
      if (node.type === "array" && node.maxItems === undefined) unbounded.push(path);
      if (node.type === "string" && node.maxLength === undefined && node.enum === undefined) unbounded.push(path);
    });
    assert.deepEqual(unbounded, []);
  });

  it("keeps the gateway entries mergeable per replica (listType=map keyed on pod)", () => {
    const gateways = openApiSchema().properties!.status!.properties!.gateways!;
    assert.equal(gateways["x-kubernetes-list-type"], "map");
    assert.deepEqual(gateways["x-kubernetes-list-map-keys"], ["pod"]);
    const conditions = openApiSchema().properties!.status!.properties!.conditions!;
    assert.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
  });

  it("has the status subresource, short name, category and printer columns", () => {
    const crd = buildCrd() as {
      spec: {
        names: { shortNames: string[]; categories: string[] };
        versions: { subresources: unknown; additionalPrinterColumns: { name: string; priority?: number }[] }[];
      };
    };
    const version = crd.spec.versions[0]!;
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(crd.spec.names.shortNames, ["pf"]);
    assert.deepEqual(crd.spec.names.categories, ["tunnelkeeper"]);
    const columns = version.additionalPrinterColumns;
    assert.deepEqual(
      columns.filter((c) => c.priority === undefined).map((c) => c.name),
      ["Target", "Service", "Ready", "Suspended", "Pods", "Connections", "Age"],
    );
    assert.deepEqual(
      columns.filter((c) => c.priority === 1).map((c) => c.name),
      ["Pod Services", "Reason", "Message"],
    );
  });

  it("states defaults in the schema, not in the controller", () => {
    const spec = openApiSchema().properties!.spec!.properties!;
    assert.equal(spec.loadBalancing!.default, "RoundRobin");
    assert.equal(spec.protocol!.default, "Auto");
    assert.deepEqual(spec.service!.default, {});
    assert.equal(spec.service!.properties!.type!.default, "ClusterIP");
    assert.equal(spec.keepalive!.properties!.interval!.default, "10s");
  });
});

describe("toStructuralSchema", () => {
  it("turns an integer/string union into x-kubernetes-int-or-string", () => {
    const node = toStructuralSchema({
      description: "d",
      anyOf: [{ type: "integer", maximum: 5 }, { type: "string" }],
      "x-kubernetes-validations": [{ rule: "true", message: "m" }],
    });
    assert.equal(node["x-kubernetes-int-or-string"], true);
    assert.deepEqual(node.anyOf, [{ type: "integer" }, { type: "string" }]);
  });

  it("refuses an int-or-string without CEL rules, since the branch constraints would be lost", () => {
    assert.throws(() => toStructuralSchema({ anyOf: [{ type: "integer" }, { type: "string" }] }), /CEL/);
  });

  it("refuses other unions", () => {
    assert.throws(() => toStructuralSchema({ anyOf: [{ type: "boolean" }, { type: "string" }] }), /int-or-string/);
  });

  it("refuses a property without a description", () => {
    assert.throws(
      () => toStructuralSchema({ type: "object", properties: { a: { type: "string" } } }),
      /\.a: every field needs a description/,
    );
  });

  it("drops JavaScript's safe-integer bounds", () => {
    const node = toStructuralSchema({ type: "integer", minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(node, { type: "integer" });
  });
});
