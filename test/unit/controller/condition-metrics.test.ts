import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { registerConditionMetrics } from "../../../src/controller/condition-metrics.ts";
import { Registry } from "../../../src/observability/metrics.ts";

const at = "2026-01-01T00:00:00Z";
const condition = (type: string, status: "True" | "False" | "Unknown") => ({
  type,
  status,
  reason: "R",
  message: "",
  lastTransitionTime: at,
});

describe("condition metrics", () => {
  it("exposes 1 for the current status and 0 for the others, per type", () => {
    const registry = new Registry();
    const metrics = registerConditionMetrics(registry);
    metrics.record("shop/db", [condition("Ready", "False")]);
    const text = registry.expose();
    assert.match(text, /tunnelkeeper_portforward_condition\{namespace="shop",name="db",type="Ready",status="False"\} 1/);
    assert.match(text, /tunnelkeeper_portforward_condition\{namespace="shop",name="db",type="Ready",status="True"\} 0/);
    assert.match(text, /tunnelkeeper_portforward_condition\{namespace="shop",name="db",type="Ready",status="Unknown"\} 0/);
  });

  it("removes the series of a condition that went away, and all series of a forgotten PortForward", () => {
    const registry = new Registry();
    const metrics = registerConditionMetrics(registry);
    metrics.record("shop/db", [condition("Ready", "False"), condition("Stalled", "True")]);
    metrics.record("shop/db", [condition("Ready", "True")]);
    assert.doesNotMatch(registry.expose(), /type="Stalled"/);
    metrics.forget("shop/db");
    assert.doesNotMatch(registry.expose(), /name="db"/);
  });
});
