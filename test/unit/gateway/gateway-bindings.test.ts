import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { type Plan, plan } from "../../../src/controller/plan.ts";
import { forwarderSpecFor } from "../../../src/gateway/gateway.ts";
import { gatewayBindingsOf, isAssignedGateway } from "../../../src/gateway/gateway-bindings.ts";
import { aPod, aPortForward, aService, type PortForwardBuilder } from "../../support/builders.ts";
import { NOW, observe } from "../../support/plan-inputs.ts";

const GATEWAYS = ["gw-a", "gw-b", "gw-c"].map((pod) => ({ pod, namespace: "tunnelkeeper-system", ip: "" }));

/** The controller's plan for `builder`, and what a gateway reads back from the objects it applies. */
function handOver(builder: PortForwardBuilder, fields: Parameters<typeof observe>[1] = {}) {
  const observed = observe(builder, { gatewayEndpoints: GATEWAYS, ...fields });
  const planned = plan(observed, NOW);
  const services = [planned.service, ...(planned.podServices ?? []).map((s) => s.service)].filter((s) => s !== undefined);
  const handed = gatewayBindingsOf(observed.portForward, {
    service: planned.service,
    endpointSlice: planned.endpointSlice,
    services: () => services,
  });
  return { planned, handed, pf: observed.portForward };
}

/** status.ports and status.podServices as listeners, for comparing with what the gateway reads. */
function statusListeners(planned: Plan) {
  return [
    ...(planned.status.ports ?? []).map((p) => ({ port: p.port, listenPort: p.gatewayPort })),
    ...(planned.status.podServices ?? []).flatMap((s) => s.ports.map((p) => ({ port: p.port, listenPort: p.gatewayPort, pod: s.pod }))),
  ];
}

describe("gatewayBindingsOf (the gateway ports and assignment, read from the controller's Service and EndpointSlice)", () => {
  it("reads the gateway ports that status.ports lists from the Service the controller applies", () => {
    const { planned, handed } = handOver(aPortForward("web"));
    assert.deepEqual(handed.bindings, [{ port: 80, listenPort: 20001 }]);
    assert.deepEqual(handed.bindings, statusListeners(planned));
  });

  it("reads each per-pod Service's ports pinned to its pod, as status.podServices lists them", () => {
    const pods = [aPod("db-0").withLabels({ app: "db" }).build(), aPod("db-1").withLabels({ app: "db" }).build()];
    const { planned, handed } = handOver(aPortForward("web").withSelectorTarget({ app: "db" }).withService({ perPod: true }), { pods });
    assert.equal(planned.status.podServices?.length, 2);
    assert.deepEqual(
      handed.bindings.map((b) => b.pod),
      [undefined, "db-0", "db-1"],
    );
    assert.deepEqual(handed.bindings, statusListeners(planned));
  });

  it("names the replicas status.assignedGateways names when a budget applies, and every replica without one", () => {
    const budget = handOver(aPortForward("web"), { gatewaysPerPortForward: 2 });
    assert.equal(budget.planned.status.assignedGateways?.length, 2);
    assert.deepEqual(budget.handed.assignedGateways, budget.planned.status.assignedGateways);
    for (const pod of GATEWAYS.map((g) => g.pod)) {
      assert.equal(isAssignedGateway(budget.handed, pod), budget.planned.status.assignedGateways?.includes(pod));
    }
    const none = handOver(aPortForward("web"), { gatewaysPerPortForward: 0 });
    assert.equal(none.planned.status.assignedGateways, undefined);
    assert.equal(none.handed.assignedGateways, undefined);
    assert.equal(isAssignedGateway(none.handed, "gw-c"), true);
  });

  it("hands nothing until both the Service and its EndpointSlice are cached, so no replica dials a PortForward not yet assigned", () => {
    const { planned, pf } = handOver(aPortForward("web"), { gatewaysPerPortForward: 1 });
    const read = (service: V1Service | undefined, endpointSlice: V1EndpointSlice | undefined) =>
      gatewayBindingsOf(pf, { service, endpointSlice, services: () => [] });
    assert.deepEqual(read(planned.service, undefined), { bindings: [], assignedGateways: undefined });
    assert.deepEqual(read(undefined, planned.endpointSlice), { bindings: [], assignedGateways: undefined });
    assert.equal(read(planned.service, planned.endpointSlice).bindings.length, 1);
  });

  it("hands nothing from a Service of the same name that is not this PortForward's", () => {
    const { planned, pf } = handOver(aPortForward("web"));
    const someoneElses = aService("web").withPorts({ port: 80, targetPort: 20001 }).build();
    assert.deepEqual(
      gatewayBindingsOf(pf, { service: someoneElses, endpointSlice: planned.endpointSlice, services: () => [] }).bindings,
      [],
    );
  });

  it("binds no per-pod port once perPod is off, while its Services wait for the controller to delete them", () => {
    const pods = [aPod("db-0").withLabels({ app: "db" }).build()];
    const on = handOver(aPortForward("web").withSelectorTarget({ app: "db" }).withService({ perPod: true }), { pods });
    const off = aPortForward("web").withSelectorTarget({ app: "db" }).build();
    const services = [on.planned.service, ...(on.planned.podServices ?? []).map((s) => s.service)].filter((s) => s !== undefined);
    const handed = gatewayBindingsOf(off, {
      service: on.planned.service,
      endpointSlice: on.planned.endpointSlice,
      services: () => services,
    });
    assert.deepEqual(forwarderSpecFor(off, { pods }, handed).bindings, [{ port: 80, listenPort: 20001 }]);
  });
});
