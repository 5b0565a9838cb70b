import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PortForward } from "../../../src/api/portforward.ts";
import { forwarderSpecFor, isAssignedGateway } from "../../../src/gateway/gateway.ts";
import { aPod, aPortForward } from "../../support/builders.ts";

function withPodServices(pf: PortForward): PortForward {
  return {
    ...pf,
    status: {
      ports: [{ port: 80, gatewayPort: 20000 }],
      podServices: [
        { pod: "db-0", service: "db-0", ports: [{ port: 80, gatewayPort: 20001 }] },
        { pod: "db-1", service: "db-1", ports: [{ port: 80, gatewayPort: 20002 }] },
      ],
    },
  };
}

describe("forwarderSpecFor", () => {
  const pods = [aPod("db-0").withLabels({ app: "db" }).build(), aPod("db-1").withLabels({ app: "db" }).build()];

  it("binds the Service's gateway ports unpinned and each per-pod Service's pinned to its pod", () => {
    const pf = withPodServices(aPortForward("db").withSelectorTarget({ app: "db" }).withService({ perPod: true }).build());
    assert.deepEqual(forwarderSpecFor(pf, { pods }).bindings, [
      { port: 80, listenPort: 20000 },
      { port: 80, listenPort: 20001, pod: "db-0" },
      { port: 80, listenPort: 20002, pod: "db-1" },
    ]);
  });

  it("binds no per-pod port once perPod is off, before the controller has updated the status", () => {
    const pf = withPodServices(aPortForward("db").withSelectorTarget({ app: "db" }).build());
    assert.deepEqual(forwarderSpecFor(pf, { pods }).bindings, [{ port: 80, listenPort: 20000 }]);
  });
});

describe("isAssignedGateway (status.assignedGateways, the controller's tunnel budget)", () => {
  const pf = aPortForward("web").build();
  it("keeps the tunnels of a PortForward whose assigned gateways list this replica", () => {
    assert.equal(isAssignedGateway({ ...pf, status: { assignedGateways: ["gw-a", "gw-b"] } }, "gw-b"), true);
  });
  it("stands by for one whose assigned gateways do not list it", () => {
    assert.equal(isAssignedGateway({ ...pf, status: { assignedGateways: ["gw-a", "gw-b"] } }, "gw-c"), false);
  });
  it("serves every PortForward without an assignment (no budget, no live gateway seen, or an older controller)", () => {
    assert.equal(isAssignedGateway(pf, "gw-c"), true);
    assert.equal(isAssignedGateway({ ...pf, status: {} }, "gw-c"), true);
  });
});
