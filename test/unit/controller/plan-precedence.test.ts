// Characterisation of plan(): which problem Ready names when several hold at once, and the exact
// messages each condition carries. plan.test.ts covers one problem at a time; these cases pin the
// combinations (a person-fixable problem anywhere first, then target → tunnel → Service) and the
// wording, so a restructuring of plan() can be checked against them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GatewayPortRecord } from "../../../src/controller/allocate-ports.ts";
import { findCondition } from "../../../src/controller/conditions.ts";
import type { Observed, Plan } from "../../../src/controller/plan.ts";
import { plan } from "../../../src/controller/plan.ts";
import { aConnectedGateway, aGatewayEntry, aPod, aPortForward, aService } from "../../support/builders.ts";
import { conditionSummary, NOW, observe } from "../../support/plan-inputs.ts";

function messageOf(result: Plan, type: string): string | undefined {
  return findCondition(result.status.conditions, type)?.message;
}

const foreignService = [aService("web").withPorts({ port: 5432, targetPort: 5432 }).build()];
const portsExhausted: Partial<Observed> = {
  gatewayPortRecords: [{ owner: "default/other", port: 1, gatewayPort: 20000 }] satisfies GatewayPortRecord[],
  gatewayPortRange: { min: 20000, max: 20000 },
};
const forbiddenGateway = aGatewayEntry("gw-0", { reason: "Forbidden", lastError: 'pods "web-0" is forbidden' });
const unsupportedGateway = aGatewayEntry("gw-1", { reason: "ProtocolUnsupported", lastError: "bad handshake" });
const notReadyPod = aPod("web-0").notReady().build();

const CONFLICT =
  "Service web already exists and is not owned by this PortForward; set spec.service.name to another name or delete that Service.";
const EXHAUSTED = "All 1 gateway ports (20000-20000) are in use; widen the controller's gateway port range or remove unused PortForwards.";
const PORT_NOT_EXPOSED =
  'Pod "web-0" has no container port named "http" (it declares no named ports); set spec.ports[].targetPort to a port number or one of these names.';
const NO_READY_PODS = "1 pod matches but none is ready (web-0); new connections are accepted again as soon as a pod becomes ready.";
const FORBIDDEN =
  'Gateway gw-0 may not port-forward (pods "web-0" is forbidden); grant its ServiceAccount get and create on pods/portforward in namespace default.';
const TUNNEL_WAITS_FOR_TARGET = "No tunnel can carry traffic until a target pod is ready; see the TargetResolved condition.";

describe("plan: which problem Ready names when several hold", () => {
  const cases: { name: string; observed: Observed; conditions: Record<string, string>; ready: string }[] = [
    {
      name: "a foreign Service beats a stalled target",
      observed: observe(aPortForward().withPorts({ port: 80, targetPort: "http" }), { services: foreignService }),
      conditions: {
        Ready: "False/ServiceConflict",
        Stalled: "True/ServiceConflict",
        TargetResolved: "False/PortNotExposed",
        TunnelConnected: "False/PortNotExposed",
        ServiceReady: "False/ServiceConflict",
      },
      ready: CONFLICT,
    },
    {
      name: "a foreign Service beats exhausted gateway ports, also on ServiceReady",
      observed: observe(aPortForward(), { services: foreignService, ...portsExhausted }),
      conditions: {
        Ready: "False/ServiceConflict",
        Stalled: "True/ServiceConflict",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/NoGatewayReporting",
        ServiceReady: "False/ServiceConflict",
      },
      ready: CONFLICT,
    },
    {
      name: "exhausted gateway ports beat a stalled target",
      observed: observe(aPortForward().withPorts({ port: 80, targetPort: "http" }), { services: [], ...portsExhausted }),
      conditions: {
        Ready: "False/PortsExhausted",
        Stalled: "True/PortsExhausted",
        TargetResolved: "False/PortNotExposed",
        TunnelConnected: "False/PortNotExposed",
        ServiceReady: "False/PortsExhausted",
      },
      ready: EXHAUSTED,
    },
    {
      name: "exhausted gateway ports beat a missing pod",
      observed: observe(aPortForward(), { services: [], pods: [], ...portsExhausted }),
      conditions: {
        Ready: "False/PortsExhausted",
        Stalled: "True/PortsExhausted",
        TargetResolved: "False/PodNotFound",
        TunnelConnected: "False/PodNotFound",
        ServiceReady: "False/PortsExhausted",
      },
      ready: EXHAUSTED,
    },
    {
      name: "a stalled target beats a gateway that may not port-forward",
      observed: observe(aPortForward().withPorts({ port: 80, targetPort: "http" }).withGateways(forbiddenGateway)),
      conditions: {
        Ready: "False/PortNotExposed",
        Stalled: "True/PortNotExposed",
        TargetResolved: "False/PortNotExposed",
        TunnelConnected: "False/PortNotExposed",
        ServiceReady: "True/ServiceAvailable",
      },
      ready: PORT_NOT_EXPOSED,
    },
    {
      name: "a target that is not ready hides a gateway's Forbidden (the tunnel waits for the target)",
      observed: observe(aPortForward().withGateways(forbiddenGateway), { pods: [notReadyPod] }),
      conditions: {
        Ready: "False/NoReadyPods",
        Reconciling: "True/NoReadyPods",
        TargetResolved: "False/NoReadyPods",
        TunnelConnected: "False/NoReadyPods",
        ServiceReady: "True/ServiceAvailable",
      },
      ready: NO_READY_PODS,
    },
    {
      name: "a gateway's Forbidden beats a pending Service",
      observed: observe(aPortForward().withGateways(forbiddenGateway), { services: [] }),
      conditions: {
        Ready: "False/Forbidden",
        Stalled: "True/Forbidden",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/Forbidden",
        ServiceReady: "False/ServicePending",
      },
      ready: FORBIDDEN,
    },
    {
      name: "a gateway's Forbidden beats another gateway's ProtocolUnsupported",
      observed: observe(aPortForward().withGateways(unsupportedGateway, forbiddenGateway)),
      conditions: {
        Ready: "False/Forbidden",
        Stalled: "True/Forbidden",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/Forbidden",
        ServiceReady: "True/ServiceAvailable",
      },
      ready: FORBIDDEN,
    },
    {
      name: "a gateway's ProtocolUnsupported is Stalled",
      observed: observe(aPortForward().withGateways(unsupportedGateway)),
      conditions: {
        Ready: "False/ProtocolUnsupported",
        Stalled: "True/ProtocolUnsupported",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/ProtocolUnsupported",
        ServiceReady: "True/ServiceAvailable",
      },
      ready: "Gateway gw-1 cannot speak a port-forward protocol the API server accepts (bad handshake); set spec.protocol to Auto.",
    },
    {
      name: "a target's UDP port is Stalled",
      observed: observe(
        aPortForward()
          .withPorts({ port: 53, targetPort: "dns" })
          .withGateways(aConnectedGateway("gw-0", ["web-0"])),
        { pods: [aPod("web-0").withContainerPort("dns", 53, "UDP").build()] },
      ),
      conditions: {
        Ready: "False/ProtocolUnsupported",
        Stalled: "True/ProtocolUnsupported",
        TargetResolved: "False/ProtocolUnsupported",
        TunnelConnected: "False/ProtocolUnsupported",
        ServiceReady: "True/ServiceAvailable",
      },
      ready: 'Container port "dns" of pod "web-0" is UDP; pods/portforward carries TCP only, so only TCP ports can be forwarded.',
    },
    {
      name: "a target that is not ready beats a pending Service",
      observed: observe(aPortForward(), { services: [], pods: [notReadyPod] }),
      conditions: {
        Ready: "False/NoReadyPods",
        Reconciling: "True/NoReadyPods",
        TargetResolved: "False/NoReadyPods",
        TunnelConnected: "False/NoReadyPods",
        ServiceReady: "False/ServicePending",
      },
      ready: NO_READY_PODS,
    },
    {
      name: "reconnecting gateways beat a pending Service",
      observed: observe(aPortForward().withGateways(aGatewayEntry("gw-0", { lastError: "EOF" })), { services: [] }),
      conditions: {
        Ready: "False/Reconnecting",
        Reconciling: "True/Reconnecting",
        TargetResolved: "True/Resolved",
        TunnelConnected: "False/Reconnecting",
        ServiceReady: "False/ServicePending",
      },
      ready: "No gateway holds a live tunnel to a ready pod yet; gateways are reconnecting (gw-0: EOF).",
    },
    {
      name: "a connected gateway hides another gateway's Forbidden: Ready, but Degraded",
      observed: observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]), aGatewayEntry("gw-1", { reason: "Forbidden" }))),
      conditions: {
        Ready: "True/Forwarding",
        TargetResolved: "True/Resolved",
        TunnelConnected: "True/Connected",
        ServiceReady: "True/ServiceAvailable",
        Degraded: "True/PartiallyConnected",
      },
      ready: "Service web forwards to 1 ready pod through 1 gateway.",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = plan(c.observed, NOW);
      assert.deepEqual(conditionSummary(result), c.conditions);
      assert.equal(messageOf(result, "Ready"), c.ready);
    });
  }
});

describe("plan: condition messages", () => {
  it("explains on TunnelConnected that the tunnel waits for the target", () => {
    const result = plan(observe(aPortForward().withGateways(forbiddenGateway), { pods: [notReadyPod] }), NOW);
    assert.equal(messageOf(result, "TargetResolved"), NO_READY_PODS);
    assert.equal(messageOf(result, "TunnelConnected"), TUNNEL_WAITS_FOR_TARGET);
  });

  it("copies Ready's cause into Stalled and Reconciling word for word", () => {
    const stalled = plan(observe(aPortForward(), { services: foreignService }), NOW);
    assert.equal(messageOf(stalled, "Stalled"), CONFLICT);
    const reconciling = plan(observe(aPortForward(), { pods: [notReadyPod] }), NOW);
    assert.equal(messageOf(reconciling, "Reconciling"), NO_READY_PODS);
  });

  it("words the True conditions", () => {
    const result = plan(
      observe(
        aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]), aConnectedGateway("gw-1", ["web-0"], { protocol: "Legacy" })),
      ),
      NOW,
    );
    assert.equal(messageOf(result, "Ready"), "Service web forwards to 1 ready pod through 2 gateways.");
    assert.equal(messageOf(result, "TargetResolved"), "pod/web-0 resolved to 1 pod, 1 ready.");
    assert.equal(messageOf(result, "TunnelConnected"), "2 of 2 gateways hold a live tunnel to a ready pod (protocol Legacy, Tunnel).");
    assert.equal(messageOf(result, "ServiceReady"), "Service web (10.96.0.10) routes ports 80→20001 (Service port → gateway port).");
  });

  it("words Degraded and ServicePending", () => {
    const result = plan(
      observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"]), aGatewayEntry("gw-1", { reason: "Forbidden" })), {
        services: [],
      }),
      NOW,
    );
    assert.equal(messageOf(result, "ServiceReady"), "Service web is being created.");
    assert.equal(messageOf(result, "Degraded"), "1 of 2 gateways holds a live tunnel to a ready pod; gw-1: Forbidden.");
  });
});

describe("plan: events and requeue for the combined cases", () => {
  it("records a Warning for a gateway's ProtocolUnsupported and requeues rarely (Stalled)", () => {
    const result = plan(observe(aPortForward().withGateways(unsupportedGateway)), NOW);
    assert.deepEqual(
      result.events.map((e) => `${e.type}/${e.reason}/${e.action}`),
      ["Warning/ProtocolUnsupported/Reconcile", "Normal/ServiceAvailable/ApplyService"],
    );
    assert.equal(result.requeueAfterMs, 300_000);
  });

  it("sets AccessDenied without touching Ready and requeues when it lapses", () => {
    const lastDenied = { time: "2026-03-01T11:52:00Z", source: "10.0.0.7", client: "default/curl", reason: "PeerNotAllowed" as const };
    const result = plan(
      observe(aPortForward().withGateways(aConnectedGateway("gw-0", ["web-0"], { deniedConnections: 3, lastDenied }))),
      NOW,
    );
    assert.equal(conditionSummary(result).Ready, "True/Forwarding");
    assert.equal(conditionSummary(result).AccessDenied, "True/PeerNotAllowed");
    assert.match(
      messageOf(result, "AccessDenied") ?? "",
      /^Refused a connection from 10\.0\.0\.7 \(pod default\/curl\) at 2026-03-01T11:52:00Z/,
    );
    assert.equal(result.requeueAfterMs, 2 * 60_000, "the denial lapses 10 minutes after 11:52");
  });
});
