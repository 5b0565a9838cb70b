import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assignGateways } from "../../../src/controller/assign-gateways.ts";
import type { GatewayEndpoint } from "../../../src/controller/desired-endpoint-slice.ts";
import { aPortForward } from "../../support/builders.ts";

function gateways(count: number): GatewayEndpoint[] {
  return Array.from({ length: count }, (_, i) => ({ pod: `gw-${i}`, namespace: "tunnelkeeper-system", ip: `10.244.0.${i + 1}` }));
}

const portForwards = Array.from({ length: 1_000 }, (_, i) => aPortForward(`pf-${i}`).withUid(`uid-${i}`).build());
const podsOf = (assigned: readonly GatewayEndpoint[]) => assigned.map((g) => g.pod);

describe("assignGateways (the tunnel budget)", () => {
  it("gives each PortForward at most perPortForward live replicas, sorted by pod name", () => {
    for (const pf of portForwards.slice(0, 50)) {
      const assigned = podsOf(assignGateways(pf, gateways(5), 2));
      assert.equal(assigned.length, 2);
      assert.deepEqual(assigned, [...assigned].sort());
    }
  });

  it("gives every live replica when perPortForward is 0 or at least the number of replicas", () => {
    const pf = portForwards[0]!;
    assert.deepEqual(podsOf(assignGateways(pf, gateways(3), 0)), ["gw-0", "gw-1", "gw-2"]);
    assert.deepEqual(podsOf(assignGateways(pf, gateways(3), 3)), ["gw-0", "gw-1", "gw-2"]);
    assert.deepEqual(podsOf(assignGateways(pf, gateways(2).reverse(), 5)), ["gw-0", "gw-1"]);
    assert.deepEqual(assignGateways(pf, [], 2), []);
  });

  it("is the same in every process: it depends on the PortForward and the live set, not their order", () => {
    const live = gateways(6);
    for (const pf of portForwards.slice(0, 100)) {
      assert.deepEqual(assignGateways(pf, live, 2), assignGateways(pf, [...live].reverse(), 2));
    }
  });

  it("spreads 1,000 PortForwards evenly over the replicas", () => {
    const counts = new Map<string, number>();
    for (const pf of portForwards)
      for (const pod of podsOf(assignGateways(pf, gateways(5), 2))) counts.set(pod, (counts.get(pod) ?? 0) + 1);
    // 2,000 assignments over 5 replicas: 400 each on average; a uniform hash stays well within ±25%.
    for (const [pod, count] of counts) assert.ok(count > 300 && count < 500, `${pod} serves ${count} of 1,000`);
  });

  it("moves only the PortForwards a joining replica wins, and only those a leaving replica held", () => {
    const before = gateways(4);
    const joined = gateways(5);
    let moved = 0;
    for (const pf of portForwards) {
      const old = new Set(podsOf(assignGateways(pf, before, 2)));
      const now = podsOf(assignGateways(pf, joined, 2));
      const changed = now.filter((pod) => !old.has(pod));
      if (changed.length > 0) {
        moved += 1;
        assert.deepEqual(changed, ["gw-4"], "a PortForward only ever moves to the new replica");
      }
    }
    // Expected share: 2 of 5 slots go to the new replica, i.e. about 40% of PortForwards gain it.
    assert.ok(moved > 300 && moved < 500, `${moved} of 1,000 PortForwards moved`);

    for (const pf of portForwards) {
      const old = podsOf(assignGateways(pf, joined, 2));
      const now = podsOf(assignGateways(pf, before, 2));
      if (!old.includes("gw-4")) assert.deepEqual(now, old, "PortForwards the leaving replica did not serve stay where they are");
    }
  });

  it("identifies a PortForward by its UID, so one re-created under the same name may land elsewhere", () => {
    const live = gateways(8);
    const differs = Array.from({ length: 20 }, (_, i) => aPortForward("web").withUid(`uid-${i}`).build()).some(
      (pf) => JSON.stringify(assignGateways(pf, live, 2)) !== JSON.stringify(assignGateways(portForwards[0]!, live, 2)),
    );
    assert.ok(differs);
  });
});
