import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concernsGateway } from "../../../src/gateway/portforward-changes.ts";

const base = {
  metadata: { name: "web", namespace: "default", uid: "u1", generation: 1, labels: { a: "1" }, annotations: {} as Record<string, string> },
  status: {
    observedGeneration: 1,
    conditions: [{ type: "Ready", status: "False" }],
    ports: [{ port: 80, gatewayPort: 20080 }],
    gateways: [{ pod: "gw-0", connected: false }],
  },
};
const copy = () => structuredClone(base);

describe("concernsGateway (which PortForward updates the gateway syncs)", () => {
  it("skips an update that changes only status (the gateway ports and assignment come from the Service and EndpointSlice) or labels", () => {
    const next = copy();
    next.status.conditions = [{ type: "Ready", status: "True" }];
    next.status.observedGeneration = 2;
    next.status.gateways = [{ pod: "gw-0", connected: true }];
    next.status.ports = [{ port: 80, gatewayPort: 20081 }];
    (next.status as Record<string, unknown>).podServices = [{ pod: "web-0", service: "web-0", ports: [] }];
    (next.status as Record<string, unknown>).assignedGateways = ["gw-1"];
    next.metadata.labels = { a: "2" };
    assert.equal(concernsGateway(base, next), false);
  });
  it("syncs spec, annotation, deletion and identity changes, additions and deletions", () => {
    const changes: Array<(pf: ReturnType<typeof copy>) => void> = [
      (pf) => {
        pf.metadata.generation = 2;
      },
      (pf) => {
        pf.metadata.annotations = { "tunnelkeeper.io/reconcile-requested-at": "now" };
      },
      (pf) => {
        (pf.metadata as Record<string, unknown>).deletionTimestamp = "2026-12-02T00:00:00Z";
      },
      (pf) => {
        pf.metadata.uid = "u2";
      },
    ];
    for (const change of changes) {
      const next = copy();
      change(next);
      assert.equal(concernsGateway(base, next), true, JSON.stringify(next));
    }
    assert.equal(concernsGateway(undefined, base), true);
    assert.equal(concernsGateway(base, undefined), true);
  });
});
