// What the plan() unit tests start from: a PortForward "web" in "default" with one ready pod, its
// own Service on gateway port 20001 and that port recorded; tests override the fields they vary.
import type { Condition } from "../../src/api/status.ts";
import type { Observed, Plan } from "../../src/controller/plan.ts";
import { aPod, aService, type PortForwardBuilder } from "./builders.ts";

export const NOW = new Date("2026-03-01T12:00:00Z");

export function observe(builder: PortForwardBuilder, fields: Partial<Observed> = {}): Observed {
  const pf = builder.build();
  return {
    portForward: pf,
    pods: [aPod("web-0").build()],
    services: [aService("web").ownedBy(pf).withClusterIP("10.96.0.10").withPorts({ port: 80, targetPort: 20001 }).build()],
    gatewayPortRecords: [{ owner: "default/web", port: 80, gatewayPort: 20001 }],
    gatewayEndpoints: [],
    ...fields,
  };
}

/** `{type: "status/reason"}` of every condition, for compact assertions. */
export function conditionSummary(result: Plan): Record<string, string> {
  return Object.fromEntries((result.status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

/** A Ready condition as an earlier reconcile left it (for tests of transitions and Events). */
export function previousReady(status: "True" | "False", reason: string): Condition {
  return { type: "Ready", status, observedGeneration: 1, lastTransitionTime: "2026-03-01T11:00:00Z", reason, message: "before" };
}

/** ServiceReady=True as an earlier reconcile left it. */
export const PREVIOUS_SERVICE_READY: Condition = { ...previousReady("True", "ServiceAvailable"), type: "ServiceReady" };
