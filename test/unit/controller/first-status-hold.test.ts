import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PortForward } from "../../../src/api/portforward.ts";
import { FIRST_STATUS_HOLD_MS, firstStatusHoldMs } from "../../../src/controller/first-status-hold.ts";
import { plan } from "../../../src/controller/plan.ts";
import { aConnectedGateway, aPortForward } from "../../support/builders.ts";
import { NOW, observe, previousReady } from "../../support/plan-inputs.ts";

const GATEWAY = { pod: "gw-a", namespace: "tunnelkeeper-system", ip: "" };
/** The hold began 2 s before NOW (an earlier reconcile held it). */
const HELD_SINCE = NOW.getTime() - 2_000;

/** The hold for `pf` as the reconciler computes it: from plan()'s status, with one live gateway unless told otherwise. */
function holdFor(
  pf: PortForward,
  fields: Parameters<typeof observe>[1] = {},
  liveGateways = 1,
  heldSince = HELD_SINCE,
): number | undefined {
  const observed = { ...observe(aPortForward("web"), { gatewayEndpoints: [GATEWAY], ...fields }), portForward: pf };
  return firstStatusHoldMs(pf, plan(observed, NOW).status, liveGateways, heldSince, NOW.getTime());
}

describe("firstStatusHoldMs (a new PortForward's first status waits for the gateways' report)", () => {
  it("holds a new PortForward that only waits for a live gateway's report, for FIRST_STATUS_HOLD_MS from the reconcile that first held it", () => {
    assert.equal(holdFor(aPortForward("web").build(), {}, 1, NOW.getTime()), FIRST_STATUS_HOLD_MS);
    assert.equal(holdFor(aPortForward("web").build()), FIRST_STATUS_HOLD_MS - 2_000);
    // As the CRD serves a PortForward no controller has written: observedGeneration defaulted to 0.
    assert.equal(holdFor({ ...aPortForward("web").build(), status: { observedGeneration: 0 } }), FIRST_STATUS_HOLD_MS - 2_000);
  });

  it("writes at once when the hold has run out: the missing report then shows as NoGatewayReporting", () => {
    assert.equal(holdFor(aPortForward("web").build(), {}, 1, NOW.getTime() - FIRST_STATUS_HOLD_MS), undefined);
  });

  it("writes at once when the gateways have reported (the write says Ready), or when no gateway is live to report", () => {
    const reported: PortForward = { ...aPortForward("web").build(), status: { gateways: [aConnectedGateway("gw-a", ["web-0"])] } };
    assert.equal(holdFor(reported), undefined);
    assert.equal(holdFor(aPortForward("web").build(), { gatewayEndpoints: [] }, 0), undefined);
  });

  it("writes at once what a person must read: no ready target pod, a Service name taken", () => {
    assert.equal(holdFor(aPortForward("web").build(), { pods: [] }), undefined);
    const taken = aPortForward("web").withService({ name: "db" }).build();
    assert.equal(holdFor(taken, { services: [{ metadata: { name: "db", namespace: "default" } }] }), undefined);
  });

  it("never holds a status a controller has written", () => {
    const written: PortForward = {
      ...aPortForward("web").build(),
      status: { observedGeneration: 1, conditions: [previousReady("False", "NoGatewayReporting")] },
    };
    assert.equal(holdFor(written), undefined);
  });
});
