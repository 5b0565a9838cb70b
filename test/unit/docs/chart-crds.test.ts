// The chart's CRD templates are copies of crds/ made by scripts/sync-chart-crds.ts; this
// fails when a copy drifts (run: node scripts/sync-chart-crds.ts).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { CHART_CRDS_DIR, CRDS_DIR, listCrdFiles, renderChartCrd, syncChartCrds } from "../../../scripts/sync-chart-crds.ts";

describe("chart CRD templates", () => {
  it("are in sync with crds/ (run: node scripts/sync-chart-crds.ts)", () => {
    assert.deepEqual(syncChartCrds({ check: true }), []);
    assert.deepEqual(listCrdFiles(CHART_CRDS_DIR), listCrdFiles(CRDS_DIR));
  });

  it("are the generated YAML inside the crds.enabled gate, with the keep annotation gated by crds.keep", () => {
    for (const name of listCrdFiles(CRDS_DIR)) {
      const source = readFileSync(join(CRDS_DIR, name), "utf8");
      const chart = readFileSync(join(CHART_CRDS_DIR, name), "utf8");
      assert.ok(chart.startsWith("{{- if .Values.crds.enabled }}\n"));
      assert.ok(chart.endsWith("{{- end }}\n"));
      // Removing the template lines gives back the generated YAML plus the annotation.
      const withoutActions = chart
        .split("\n")
        .filter((line) => !line.trim().startsWith("{{"))
        .join("\n");
      const expected = parse(source) as { metadata: Record<string, unknown> };
      expected.metadata.annotations = { "helm.sh/resource-policy": "keep" };
      assert.deepEqual(parse(withoutActions), expected);
    }
  });

  it("detects a hand edit of a chart copy and a copy without a source", () => {
    const dir = mkdtempSync(join(tmpdir(), "tk-crds-"));
    try {
      const name = listCrdFiles(CRDS_DIR)[0]!;
      writeFileSync(join(dir, name), `${renderChartCrd(readFileSync(join(CRDS_DIR, name), "utf8"))}# edited\n`);
      writeFileSync(join(dir, "stale.yaml"), "kind: CustomResourceDefinition\n");
      assert.deepEqual(syncChartCrds({ check: true, chartCrdsDir: dir }), [join(dir, name), join(dir, "stale.yaml")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("adds the keep annotation to existing annotations instead of a second annotations key", () => {
    const crd =
      "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: x.example.io\n  annotations:\n    a: b\nspec: {}\n";
    const chart = renderChartCrd(crd);
    assert.equal((chart.match(/annotations:/g) ?? []).length, 1);
    assert.match(
      chart,
      / {2}annotations:\n {4}\{\{- if \.Values\.crds\.keep \}\}\n {4}helm\.sh\/resource-policy: keep\n {4}\{\{- end \}\}\n {4}a: b\n/,
    );
  });

  it("refuses YAML that Helm would read as template actions", () => {
    assert.throws(() => renderChartCrd('metadata:\n  name: x\n  description: "{{ oops }}"\n'), /template actions/);
  });
});
