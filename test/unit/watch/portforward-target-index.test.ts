import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { PortForward } from "../../../src/api/portforward.ts";
import { mayResolveThrough, type TargetKind } from "../../../src/targets/resolve-targets.ts";
import {
  anyPodValue,
  podValue,
  portForwardTargetValues,
  selectorValue,
  serviceValue,
  workloadValue,
} from "../../../src/watch/portforward-target-index.ts";
import { aPortForward } from "../../support/builders.ts";

const NS = "apps";
const names = ["a", "b"];

/** The index values a change of `kind` named `name` looks up (watch/portforward-keys.ts). */
function lookedUp(kind: TargetKind, name: string): string[] {
  if (kind === "pod") return [podValue(NS, name), selectorValue(NS), anyPodValue(NS)];
  return kind === "service" ? [serviceValue(NS, name)] : [workloadValue(NS, name)];
}

describe("portForwardTargetValues", () => {
  it("lists a PortForward under a value looked up for every change mayResolveThrough says may concern it", () => {
    const target = fc.oneof(
      fc.constantFrom(...names).map((pod): Record<string, unknown> => ({ pod })),
      fc.constantFrom(...names).map((service): Record<string, unknown> => ({ service })),
      fc.constantFrom(...names).map((name): Record<string, unknown> => ({ workload: { kind: "Deployment", name } })),
      fc.constantFrom(...names).map((app): Record<string, unknown> => ({ selector: { matchLabels: { app } } })),
    );
    fc.assert(
      fc.property(target, fc.constantFrom<TargetKind>("pod", "service", "workload"), fc.constantFrom(...names), (t, kind, name) => {
        const raw = aPortForward("pf", NS).raw() as { spec: Record<string, unknown> };
        raw.spec.target = t;
        const pf = raw as unknown as PortForward;
        const values = new Set(portForwardTargetValues(pf));
        const found = lookedUp(kind, name).some((v) => values.has(v));
        if (mayResolveThrough(pf, kind, name, { app: name })) assert.ok(found, `${JSON.stringify(t)} missed for ${kind}/${name}`);
      }),
    );
  });

  it("keeps a pod target out of other pods' and of Services' lookups", () => {
    const values = portForwardTargetValues(aPortForward("pf", NS).withPodTarget("a").build());
    assert.deepEqual(values, [podValue(NS, "a")]);
    assert.ok(!values.includes(podValue(NS, "b")));
    assert.ok(!values.includes(serviceValue(NS, "a")));
  });

  it("puts Service targets among the PortForwards every pod change looks at (they resolve through pods)", () => {
    assert.deepEqual(portForwardTargetValues(aPortForward("pf", NS).withServiceTarget("db").build()), [
      anyPodValue(NS),
      serviceValue(NS, "db"),
    ]);
  });
});
