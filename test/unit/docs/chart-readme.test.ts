// The chart README is generated from README.md.gotmpl and the "# --" comments of values.yaml
// (scripts/generate-chart-readme.ts); this fails when it drifts or when a value is undocumented.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { README, renderReadme, valueRows } from "../../../scripts/generate-chart-readme.ts";

describe("charts/tunnelkeeper/README.md", () => {
  it("is up to date with values.yaml (run: node scripts/generate-chart-readme.ts)", () => {
    assert.equal(readFileSync(README, "utf8"), renderReadme());
  });

  it("documents every value, new ones included", () => {
    const keys = valueRows(readFileSync(README.replace(/README\.md$/, "values.yaml"), "utf8")).map((r) => r.key);
    for (const key of [
      "global.imageRegistry",
      "commonLabels",
      "extraObjects",
      "controller.podSecurityContext",
      "gateway.securityContext",
      "gateway.extraVolumes",
      "gateway.extraVolumeMounts",
      "controller.extraEnv",
      "gateway.livenessProbe",
      "controller.readinessProbe",
      "gateway.startupProbe",
      "controller.revisionHistoryLimit",
      "gateway.strategy",
      "metrics.serviceMonitor.relabelings",
      "metrics.podMonitor.metricRelabelings",
      "metrics.prometheusRule.enabled",
      "metrics.dashboard.labels",
    ]) {
      assert.ok(keys.includes(key), `${key} is not in the values table`);
    }
  });

  it("rows follow the helm-docs rules: a documented map is one row, an undocumented one is its keys, an undocumented leaf fails", () => {
    const yaml = ["# -- A documented map.", "a:", "  b: 1", "c:", "  # -- A leaf", "  # continued.", "  d: x", "  e: []", ""].join("\n");
    assert.deepEqual(valueRows(yaml), [
      { key: "a", type: "object", default: { b: 1 }, description: "A documented map." },
      { key: "c.d", type: "string", default: "x", description: "A leaf continued." },
      { key: "c.e", type: "list", default: [], description: "" },
    ]);
    assert.throws(() => renderReadme('{{ template "chart.valuesTable" . }}', yaml), /without a "# --" description: c\.e/);
  });
});
