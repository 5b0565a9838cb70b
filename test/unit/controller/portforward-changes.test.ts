import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concernsController } from "../../../src/controller/portforward-changes.ts";

const base = {
  metadata: { name: "web", namespace: "default", uid: "u1", generation: 1, labels: { a: "1" }, annotations: {} as Record<string, string> },
  status: {
    observedGeneration: 1,
    conditions: [{ type: "Ready", status: "False" }],
    gateways: [{ pod: "gw-0", connected: false }],
  },
};
const copy = () => structuredClone(base);

describe("concernsController (which PortForward updates the controller reconciles)", () => {
  it("skips an update that only changes status fields the controller writes itself", () => {
    const next = copy();
    next.status.conditions = [{ type: "Ready", status: "True" }];
    next.status.observedGeneration = 2;
    (next.status as Record<string, unknown>).assignedGateways = ["gw-0"];
    assert.equal(concernsController(base, next), false);
  });
  it("reconciles a change of a gateway's status entry (it decides Ready)", () => {
    const next = copy();
    next.status.gateways = [{ pod: "gw-0", connected: true }];
    assert.equal(concernsController(base, next), true);
  });
  it("reconciles spec, label, annotation, deletion and identity changes, additions and deletions", () => {
    const changes: Array<(pf: ReturnType<typeof copy>) => void> = [
      (pf) => {
        pf.metadata.generation = 2;
      },
      (pf) => {
        pf.metadata.labels = { a: "2" };
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
      assert.equal(concernsController(base, next), true, JSON.stringify(next.metadata));
    }
    assert.equal(concernsController(undefined, base), true);
    assert.equal(concernsController(base, undefined), true);
  });
});
