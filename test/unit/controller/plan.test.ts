import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PortForward } from "../../../src/api/portforward.ts";
import { PortForwardStatusSchema } from "../../../src/api/status.ts";
import type { GatewayPortRecord } from "../../../src/controller/allocate-ports.ts";
import { findCondition } from "../../../src/controller/conditions.ts";
import { isStatusUnchanged, type Observed, type Plan, plan } from "../../../src/controller/plan.ts";
import { aConnectedGateway, aGatewayEntry, aPod, aPortForward, aService, type PortForwardBuilder } from "../../support/builders.ts";
import { conditionSummary, NOW, observe, PREVIOUS_SERVICE_READY, previousReady } from "../../support/plan-inputs.ts";

const LATER = new Date("2026-03-01T12:01:00Z");

function withStatusOf(observed: Observed, previous: Plan): Observed {
  const pf: PortForward = {
    ...observed.portForward,
    status: { ...previous.status, ...(observed.portForward.status?.gateways ? { gateways: observed.portForward.status.gateways } : {}) },
  };
  return { ...observed, portForward: pf };
}

describe("plan: Ready and the detail conditions", () => {
  const cases: { name: string; observed: Observed; conditions: Record<string, string> }[] = [
    {
      name: "first reconcile, nothing exists yet: Ready=False NoGatewayReporting, Reconciling",
      observed: observe(aPortForward(), { services: [] }),
      conditions: {
        Ready: "False/NoGatewayReporting",
        Reconciling: "True/NoGatewayReporting",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/NoGatewayReporting",
        ServiceReady: "False/ServicePending",
      },
    },
    {
      name: "Service exists, no gateway reports yet",
      observed: observe(aPortForward()),
      conditions: {
        Ready: "False/NoGatewayReporting",
        Reconciling: "True/NoGatewayReporting",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/NoGatewayReporting",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "gateway connected but the Service is not observed yet",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])), { services: [] }),
      conditions: {
        Ready: "False/ServicePending",
        Reconciling: "True/ServicePending",
        TargetResolved: "True/Resolved",
        TunnelConnected: "True/Connected",
        ServiceReady: "False/ServicePending",
      },
    },
    {
      name: "the data path works",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]))),
      conditions: {
        Ready: "True/Forwarding",
        TargetResolved: "True/Resolved",
        TunnelConnected: "True/Connected",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "the only connected gateway holds a tunnel to a pod that is not a ready target",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-old"]))),
      conditions: {
        Ready: "False/Reconnecting",
        Reconciling: "True/Reconnecting",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/Reconnecting",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "target pod not ready",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])), { pods: [aPod("web-0").notReady().build()] }),
      conditions: {
        Ready: "False/NoReadyPods",
        Reconciling: "True/NoReadyPods",
        TargetResolved: "False/NoReadyPods",
        TunnelConnected: "False/NoReadyPods",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "gateway forbidden to port-forward: Stalled",
      observed: observe(
        aPortForward().withGateways(aGatewayEntry("gw-0", { reason: "Forbidden", lastError: 'pods "web-0" is forbidden' })),
      ),
      conditions: {
        Ready: "False/Forbidden",
        Stalled: "True/Forbidden",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/Forbidden",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "named port missing on the pod: Stalled",
      observed: observe(aPortForward().withPorts({ port: 80, targetPort: "http" })),
      conditions: {
        Ready: "False/PortNotExposed",
        Stalled: "True/PortNotExposed",
        TargetResolved: "False/PortNotExposed",
        TunnelConnected: "False/PortNotExposed",
        ServiceReady: "True/ServiceAvailable",
      },
    },
    {
      name: "a foreign Service has the name: Stalled, nothing applied",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])), {
        services: [aService("web").withPorts({ port: 5432, targetPort: 5432 }).build()],
      }),
      conditions: {
        Ready: "False/ServiceConflict",
        Stalled: "True/ServiceConflict",
        TargetResolved: "True/Resolved",
        TunnelConnected: "True/Connected",
        ServiceReady: "False/ServiceConflict",
      },
    },
    {
      name: "one of two gateways disconnected: Ready but Degraded",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]), aGatewayEntry("gw-1", { lastError: "EOF" }))),
      conditions: {
        Ready: "True/Forwarding",
        TargetResolved: "True/Resolved",
        TunnelConnected: "True/Connected",
        ServiceReady: "True/ServiceAvailable",
        Degraded: "True/PartiallyConnected",
      },
    },
    {
      name: "entries of gateway pods that are gone are ignored",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-gone", ["web-0"])), { gatewayPods: ["gw-0"] }),
      conditions: {
        Ready: "False/NoGatewayReporting",
        Reconciling: "True/NoGatewayReporting",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/NoGatewayReporting",
        ServiceReady: "True/ServiceAvailable",
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = plan(c.observed, NOW);
      assert.deepEqual(conditionSummary(result), c.conditions);
      for (const condition of result.status.conditions ?? []) assert.equal(condition.observedGeneration, 1);
      PortForwardStatusSchema.parse(result.status);
    });
  }

  it("says in the NoGatewayReporting message that no gateway has reported", () => {
    const ready = findCondition(plan(observe(aPortForward()), NOW).status.conditions, "Ready");
    assert.match(ready?.message ?? "", /No gateway replica has reported on this PortForward yet/);
  });

  it("tells how to fix Forbidden", () => {
    const observed = observe(aPortForward().withGateways(aGatewayEntry("gw-0", { reason: "Forbidden" })));
    const ready = findCondition(plan(observed, NOW).status.conditions, "Ready");
    assert.match(ready?.message ?? "", /grant its ServiceAccount get and create on pods\/portforward in namespace default/);
  });
});

describe("plan: the Service", () => {
  it("plans the same with the own Service looked up by the caller (ownService) as when it finds it in the list", () => {
    const found = observe(aPortForward());
    const own = found.services?.[0];
    assert.ok(own !== undefined);
    const others = [aService("db").withClusterIP("10.96.0.20").build()];
    const listed = { ...found, services: [...others, own] };
    assert.deepEqual(plan({ ...listed, ownService: own }, NOW), plan(listed, NOW));
    const taken = aService("web").withClusterIP("10.96.0.30").build();
    assert.deepEqual(
      plan({ ...found, services: [taken], ownService: taken }, NOW),
      plan({ ...found, services: [taken] }, NOW),
      "a Service of that name that is not ours: the same conflict",
    );
    assert.deepEqual(
      plan({ ...listed, services: others, ownService: null }, NOW),
      plan({ ...listed, services: others }, NOW),
      "null: none",
    );
  });

  it("applies the desired Service with the recorded gateway port and an EndpointSlice of the gateways", () => {
    const gatewayEndpoints = [{ pod: "gw-0", namespace: "tunnelkeeper-system", ip: "10.244.0.9" }];
    const result = plan(observe(aPortForward(), { gatewayEndpoints }), NOW);
    assert.deepEqual(result.service?.spec?.ports, [{ port: 80, targetPort: 20001, protocol: "TCP" }]);
    assert.deepEqual(result.service?.spec?.selector, {}, "an empty selector, applied to take over (and clear) the atomic field");
    assert.deepEqual(result.endpointSlice?.ports, [{ name: "", port: 20001, protocol: "TCP" }]);
    assert.deepEqual(
      result.endpointSlice?.endpoints?.map((e) => e.addresses),
      [["10.244.0.9"]],
    );
  });

  it("lists only the assigned gateways in the EndpointSlice and in status.assignedGateways (the tunnel budget)", () => {
    const gatewayEndpoints = ["gw-0", "gw-1", "gw-2", "gw-3"].map((pod, i) => ({
      pod,
      namespace: "tunnelkeeper-system",
      ip: `10.244.0.${i + 1}`,
    }));
    const result = plan(observe(aPortForward(), { gatewayEndpoints, gatewaysPerPortForward: 2 }), NOW);
    const assigned = result.status.assignedGateways ?? [];
    assert.equal(assigned.length, 2);
    assert.deepEqual(
      result.endpointSlice?.endpoints?.map((e) => e.targetRef?.name),
      assigned,
      "the Service routes to the assigned replicas only",
    );
  });

  it("names no assigned gateways without a budget or without a live gateway, so every replica serves", () => {
    const gatewayEndpoints = [{ pod: "gw-0", namespace: "tunnelkeeper-system", ip: "10.244.0.9" }];
    assert.equal(plan(observe(aPortForward(), { gatewayEndpoints }), NOW).status.assignedGateways, undefined);
    assert.equal(
      plan(observe(aPortForward(), { gatewayEndpoints: [], gatewaysPerPortForward: 2 }), NOW).status.assignedGateways,
      undefined,
    );
    assert.deepEqual(plan(observe(aPortForward(), { gatewayEndpoints, gatewaysPerPortForward: 2 }), NOW).status.assignedGateways, ["gw-0"]);
  });

  it("applies nothing when a foreign Service has the name", () => {
    const result = plan(observe(aPortForward(), { services: [aService("web").build()] }), NOW);
    assert.equal(result.service, undefined);
    assert.equal(result.endpointSlice, undefined);
  });

  it("adopts an orphaned Service that carries its labels", () => {
    const pf = aPortForward().build();
    const orphan = aService("web").ownedBy(pf).build();
    orphan.metadata!.ownerReferences = [];
    const result = plan(observe(aPortForward(), { services: [orphan] }), NOW);
    assert.notEqual(result.service, undefined);
  });

  it("reports PortsExhausted and applies nothing when no gateway port is left", () => {
    const records: GatewayPortRecord[] = [{ owner: "default/other", port: 1, gatewayPort: 20000 }];
    const result = plan(
      observe(aPortForward(), { services: [], gatewayPortRecords: records, gatewayPortRange: { min: 20000, max: 20000 } }),
      NOW,
    );
    assert.equal(result.service, undefined);
    assert.equal(conditionSummary(result).Stalled, "True/PortsExhausted");
    assert.equal(result.status.ports, undefined);
  });
});

describe("plan: status fields", () => {
  it("derives targets, totals and display fields", () => {
    const observed = observe(
      aPortForward()
        .withSelectorTarget({ app: "web" })
        .withGateways(
          aConnectedGateway("gw-1", ["web-0"], { activeConnections: 3, reconnects: 1 }),
          aConnectedGateway("gw-0", ["web-0", "web-1"], { activeConnections: 2, reconnects: 4 }),
        ),
      {
        pods: [
          aPod("web-0").withLabels({ app: "web" }).build(),
          aPod("web-1").withLabels({ app: "web" }).build(),
          aPod("web-2").withLabels({ app: "web" }).notReady().build(),
        ],
      },
    );
    const { status } = plan(observed, NOW);
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.target, "selector app=web");
    assert.equal(status.pods, "2/3");
    assert.equal(status.serviceName, "web");
    assert.equal(status.clusterIP, "10.96.0.10");
    assert.deepEqual(status.ports, [{ port: 80, gatewayPort: 20001 }]);
    assert.deepEqual(status.targets, [
      { pod: "web-0", ready: true, gateways: ["gw-0", "gw-1"] },
      { pod: "web-1", ready: true, gateways: ["gw-0"] },
      { pod: "web-2", ready: false },
    ]);
    assert.deepEqual(status.totals, {
      pods: 3,
      readyPods: 2,
      connectedPods: 2,
      gateways: 2,
      connectedGateways: 2,
      activeConnections: 5,
      reconnects: 5,
    });
    assert.equal("gateways" in status, false, "the controller never writes gateway entries");
  });

  it("sets observedGeneration from metadata.generation", () => {
    const { status } = plan(observe(aPortForward().withGeneration(7)), NOW);
    assert.equal(status.observedGeneration, 7);
    assert.ok((status.conditions ?? []).every((c) => c.observedGeneration === 7));
  });
});

describe("plan: level-based and idempotent", () => {
  it("a replay against its own status changes nothing, keeps transition times and records no event", () => {
    const observed = observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])));
    const first = plan(observed, NOW);
    const second = plan(withStatusOf(observed, first), LATER);
    assert.deepEqual(second.status, first.status);
    assert.deepEqual(second.events, []);
    assert.equal(isStatusUnchanged(withStatusOf(observed, first).portForward.status, second.status), true);
  });

  it("isStatusUnchanged ignores the gateway entries it does not own", () => {
    const observed = observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])));
    const first = plan(observed, NOW);
    assert.equal(isStatusUnchanged(first.status, first.status), true);
    assert.equal(isStatusUnchanged(undefined, first.status), false);
  });

  it("requeues soon while progressing and rarely when Ready or Stalled", () => {
    assert.equal(plan(observe(aPortForward()), NOW).requeueAfterMs, 30_000);
    assert.equal(plan(observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]))), NOW).requeueAfterMs, 300_000);
    assert.equal(plan(observe(aPortForward().withPorts({ port: 80, targetPort: "nope" })), NOW).requeueAfterMs, 300_000);
  });
});

describe("plan: events only on transitions", () => {
  const ready = previousReady;
  const serviceReady = PREVIOUS_SERVICE_READY;

  const cases: { name: string; builder: PortForwardBuilder; fields?: Partial<Observed>; events: string[] }[] = [
    { name: "first reconcile while progressing records nothing", builder: aPortForward(), fields: { services: [] }, events: [] },
    {
      name: "Service appearing records ServiceAvailable",
      builder: aPortForward().withConditions(ready("False", "NoGatewayReporting")),
      events: ["Normal/ServiceAvailable"],
    },
    {
      name: "becoming Ready records Forwarding",
      builder: aPortForward()
        .withConditions(ready("False", "NoGatewayReporting"), serviceReady)
        .withGateways(aConnectedGateway("gw-0", ["web-0"])),
      events: ["Normal/Forwarding"],
    },
    {
      name: "coming up in one write (Service and tunnel at once) records one Forwarding",
      builder: aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"])),
      events: ["Normal/Forwarding"],
    },
    {
      name: "losing the target records a Warning",
      builder: aPortForward()
        .withConditions(ready("True", "Forwarding"), serviceReady)
        .withGateways(aConnectedGateway("gw-0", ["web-0"])),
      fields: { pods: [] },
      events: ["Warning/PodNotFound"],
    },
    {
      name: "a gateway dropping out records Degraded",
      builder: aPortForward()
        .withConditions(ready("True", "Forwarding"), serviceReady)
        .withGateways(aConnectedGateway("gw-0", ["web-0"]), aGatewayEntry("gw-1")),
      events: ["Warning/PartiallyConnected"],
    },
    {
      name: "an unchanged Ready records nothing",
      builder: aPortForward()
        .withConditions(ready("True", "Forwarding"), serviceReady)
        .withGateways(aConnectedGateway("gw-0", ["web-0"])),
      events: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = plan(observe(c.builder, c.fields), NOW);
      assert.deepEqual(
        result.events.map((e) => `${e.type}/${e.reason}`),
        c.events,
      );
    });
  }

  it("says what both transitions say in the one Event of a PortForward that came up in one write", () => {
    const [event] = plan(observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]))), NOW).events;
    assert.match(
      event?.note ?? "",
      /^Service web forwards to 1 ready pod through 1 gateway\. Service web \(10\.96\.0\.10\) routes ports 80→20001/,
    );
  });

  it("keeps lastTransitionTime of an unchanged Ready", () => {
    const builder = aPortForward()
      .withConditions(ready("True", "Forwarding"))
      .withGateways(aConnectedGateway("gw-0", ["web-0"]));
    const condition = findCondition(plan(observe(builder), NOW).status.conditions, "Ready");
    assert.equal(condition?.lastTransitionTime, "2026-03-01T11:00:00Z");
    assert.notEqual(condition?.message, "before");
  });
});

describe("plan with spec.service.perPod", () => {
  const pods = [aPod("db-0").withLabels({ app: "db" }).build(), aPod("db-1").withLabels({ app: "db" }).build()];
  const builder = () => aPortForward("db").withSelectorTarget({ app: "db" }).withService({ perPod: true });
  const observed = (b: PortForwardBuilder): Observed => ({
    ...observe(b, { pods }),
    services: [],
    gatewayPortRecords: [],
  });

  it("plans a Service per target pod and lists them, with their gateway ports, in status.podServices", () => {
    const result = plan(observed(builder()), NOW);
    assert.deepEqual(
      result.podServices?.map((s) => [s.pod, s.service.metadata?.name]),
      [
        ["db-0", "db-0"],
        ["db-1", "db-1"],
      ],
    );
    assert.deepEqual(
      result.status.podServices?.map((s) => s.service),
      ["db-0", "db-1"],
    );
    const ports = [...(result.status.ports ?? []), ...(result.status.podServices ?? []).flatMap((s) => s.ports)].map((p) => p.gatewayPort);
    assert.equal(new Set(ports).size, 3);
    assert.ok(PortForwardStatusSchema.safeParse(result.status).success, "the status is valid");
  });

  it("with perPod off plans no per-pod Service (the controller deletes any left) and drops status.podServices", () => {
    const on = plan(observed(builder()), NOW);
    const off = plan(withStatusOf(observed(aPortForward("db").withSelectorTarget({ app: "db" })), on), NOW);
    assert.deepEqual(off.podServices, []);
    assert.equal(off.status.podServices, undefined);
  });

  it("leaves the per-pod Services as they are while the Service's name is taken", () => {
    const taken = observed(builder());
    const result = plan({ ...taken, services: [aService("db").build()] }, NOW);
    assert.equal(result.podServices, undefined);
  });
});
