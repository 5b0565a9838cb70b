import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GatewayStatus } from "../../../src/api/status.ts";
import { findCondition } from "../../../src/controller/conditions.ts";
import { conditionsFor } from "../../../src/controller/readiness-conditions.ts";
import {
  describeDisconnected,
  firstFailure,
  gatewayForbidden,
  gatewayPortsNotAllocated,
  gatewayProtocolUnsupported,
  isStalledReason,
  isSuspendedReason,
  noGatewayReporting,
  noLiveTunnel,
  type PolicyFailure,
  READY_POLICIES,
  type ReadinessInput,
  type ReadinessPolicy,
  SERVICE_READY_POLICIES,
  serviceNameTaken,
  serviceNotObserved,
  suspended,
  TARGET_RESOLVED_POLICIES,
  TUNNEL_CONNECTED_POLICIES,
  targetStalled,
  targetUnresolved,
  tunnelWaitsForTarget,
} from "../../../src/controller/readiness-policies.ts";
import type { TargetFailureReason } from "../../../src/targets/resolve-targets.ts";
import { aConnectedGateway, aGatewayEntry, aPortForward, aService } from "../../support/builders.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const PF = aPortForward().build();
const CONNECTED = aConnectedGateway("gw-0", ["web-0"]);
const FORBIDDEN = aGatewayEntry("gw-1", { reason: "Forbidden", lastError: "pods is forbidden" });
const UNSUPPORTED = aGatewayEntry("gw-2", { reason: "ProtocolUnsupported", lastError: "bad handshake" });
const RECONNECTING = aGatewayEntry("gw-3", { lastError: "EOF" });

/** A PortForward whose data path works: every policy passes. Fields override it. */
function anInput(fields: Partial<ReadinessInput> = {}): ReadinessInput {
  return {
    portForward: PF,
    serviceName: "web",
    serviceConflict: false,
    ownService: aService("web").ownedBy(PF).withClusterIP("10.96.0.10").build(),
    allocation: { ok: true, ports: [{ port: 80, gatewayPort: 20001 }] },
    resolved: { ok: true, targets: [{ pod: "web-0", ready: true, ports: [{ port: 80, targetPort: 8080 }] }] },
    readyPods: new Set(["web-0"]),
    gateways: [CONNECTED],
    connectedGateways: [CONNECTED],
    ...fields,
  };
}

/** The target fails to resolve; no gateway can then hold a tunnel to a ready pod. */
function unresolved(reason: TargetFailureReason, message = `target failed: ${reason}`): Partial<ReadinessInput> {
  return { resolved: { ok: false, reason, message, targets: [] }, readyPods: new Set(), connectedGateways: [] };
}

/** Gateways report, none of them holds a live tunnel to a ready pod. */
function disconnected(...gateways: GatewayStatus[]): Partial<ReadinessInput> {
  return { gateways, connectedGateways: [] };
}

const notObserved: Partial<ReadinessInput> = { ownService: undefined };
const conflict: Partial<ReadinessInput> = { serviceConflict: true, ownService: undefined };
const exhausted: Partial<ReadinessInput> = { allocation: { ok: false, reason: "PortsExhausted", message: "All ports are in use." } };

const SUSPENDED_PF = aPortForward().withSpecField("suspend", true).build();
/** spec.suspend: the gateways closed their tunnels, so none is connected any more. */
const suspendedInput: Partial<ReadinessInput> = {
  portForward: SUSPENDED_PF,
  ...disconnected(aGatewayEntry("gw-0", { reason: "Suspended" })),
};

const ALL_POLICIES: readonly ReadinessPolicy[] = [
  suspended,
  serviceNameTaken,
  gatewayPortsNotAllocated,
  serviceNotObserved,
  targetUnresolved,
  targetStalled,
  tunnelWaitsForTarget,
  noGatewayReporting,
  gatewayForbidden,
  gatewayProtocolUnsupported,
  noLiveTunnel,
];

function namesOf(policies: readonly ReadinessPolicy[]): string[] {
  return policies.map((policy) => policy.name);
}

describe("readiness policies, one at a time", () => {
  it("a PortForward whose data path works passes every policy", () => {
    for (const policy of ALL_POLICIES) assert.equal(policy(anInput()), undefined, policy.name);
  });

  it("suspended fails while spec.suspend is true, naming the kept Service and gateway ports and how to resume", () => {
    assert.deepEqual(suspended(anInput(suspendedInput)), {
      reason: "Suspended",
      message:
        "spec.suspend is true: the gateways have closed the tunnels and refuse connections; Service web and its ports (gateway ports 20001) are kept. Set spec.suspend to false to resume.",
    });
    assert.equal(suspended(anInput({ portForward: aPortForward().withSpecField("suspend", false).build() })), undefined);
  });

  it("suspended is neither a Stalled reason nor progress: kstatus reads it as Current", () => {
    assert.equal(isSuspendedReason("Suspended"), true);
    assert.equal(isStalledReason("Suspended"), false);
    const conditions = conditionsFor(anInput(suspendedInput), firstFailure(READY_POLICIES, anInput(suspendedInput)), undefined, NOW);
    const ready = findCondition(conditions, "Ready");
    assert.deepEqual([ready?.status, ready?.reason], ["False", "Suspended"]);
    assert.equal(findCondition(conditions, "Stalled"), undefined);
    assert.equal(findCondition(conditions, "Reconciling"), undefined);
    assert.equal(findCondition(conditions, "TunnelConnected")?.reason, "Suspended");
    assert.equal(findCondition(conditions, "TargetResolved")?.status, "True", "the target still resolves");
  });

  it("a suspended PortForward is not Degraded while some gateways are still closing their tunnels", () => {
    const input = anInput({ portForward: SUSPENDED_PF, gateways: [CONNECTED, RECONNECTING], connectedGateways: [CONNECTED] });
    const conditions = conditionsFor(input, firstFailure(READY_POLICIES, input), undefined, NOW);
    assert.equal(findCondition(conditions, "Degraded"), undefined);
    assert.equal(findCondition(conditions, "Ready")?.reason, "Suspended");
  });

  it("serviceNameTaken fails while a foreign Service has the name and tells how to fix it", () => {
    assert.deepEqual(serviceNameTaken(anInput(conflict)), {
      reason: "ServiceConflict",
      message:
        "Service web already exists and is not owned by this PortForward; set spec.service.name to another name or delete that Service.",
    });
    assert.equal(serviceNameTaken(anInput(notObserved)), undefined, "no Service at all is no conflict");
  });

  it("gatewayPortsNotAllocated fails with the allocator's reason and message", () => {
    assert.deepEqual(gatewayPortsNotAllocated(anInput(exhausted)), { reason: "PortsExhausted", message: "All ports are in use." });
  });

  it("serviceNotObserved fails while our Service is not observed yet", () => {
    assert.deepEqual(serviceNotObserved(anInput(notObserved)), { reason: "ServicePending", message: "Service web is being created." });
  });

  it("serviceNotObserved passes when the Service is not ours to apply (name taken, no ports)", () => {
    assert.equal(serviceNotObserved(anInput(conflict)), undefined);
    assert.equal(serviceNotObserved(anInput({ ...notObserved, ...exhausted })), undefined);
  });

  it("targetUnresolved fails with the resolver's reason and message, whatever the reason", () => {
    assert.deepEqual(targetUnresolved(anInput(unresolved("NoReadyPods", "none ready"))), { reason: "NoReadyPods", message: "none ready" });
    assert.deepEqual(targetUnresolved(anInput(unresolved("PortNotExposed", "no port"))), { reason: "PortNotExposed", message: "no port" });
  });

  it("targetStalled fails only for target reasons a person must fix", () => {
    assert.deepEqual(targetStalled(anInput(unresolved("PortNotExposed", "no port"))), { reason: "PortNotExposed", message: "no port" });
    assert.equal(targetStalled(anInput(unresolved("ProtocolUnsupported")))?.reason, "ProtocolUnsupported");
    assert.equal(targetStalled(anInput(unresolved("RemoteTLSFailed")))?.reason, "RemoteTLSFailed");
    assert.equal(targetStalled(anInput(unresolved("NoReadyPods"))), undefined);
    assert.equal(targetStalled(anInput(unresolved("PodNotFound"))), undefined);
    assert.equal(targetStalled(anInput(unresolved("RemoteUnreachable"))), undefined, "networks come back by themselves");
  });

  it("tunnelWaitsForTarget fails with the target's reason and points at TargetResolved", () => {
    assert.deepEqual(tunnelWaitsForTarget(anInput(unresolved("NoReadyPods"))), {
      reason: "NoReadyPods",
      message: "No tunnel can carry traffic until a target pod is ready; see the TargetResolved condition.",
    });
  });

  it("noGatewayReporting fails while no gateway entry exists, and passes for a disconnected one", () => {
    assert.equal(noGatewayReporting(anInput(disconnected()))?.reason, "NoGatewayReporting");
    assert.match(noGatewayReporting(anInput(disconnected()))?.message ?? "", /No gateway replica has reported on this PortForward yet/);
    assert.equal(noGatewayReporting(anInput(disconnected(RECONNECTING))), undefined);
  });

  it("gatewayForbidden fails while a gateway is refused and none is connected, naming the RBAC to grant", () => {
    assert.deepEqual(gatewayForbidden(anInput(disconnected(RECONNECTING, FORBIDDEN))), {
      reason: "Forbidden",
      message:
        "Gateway gw-1 may not port-forward (pods is forbidden); grant its ServiceAccount get and create on pods/portforward in namespace default.",
    });
  });

  it("gatewayForbidden passes while another gateway is connected, or the target does not resolve", () => {
    assert.equal(gatewayForbidden(anInput({ gateways: [CONNECTED, FORBIDDEN] })), undefined);
    assert.equal(gatewayForbidden(anInput({ ...disconnected(FORBIDDEN), ...unresolved("NoReadyPods") })), undefined);
    assert.equal(gatewayForbidden(anInput(disconnected(RECONNECTING))), undefined);
  });

  it("gatewayProtocolUnsupported fails while a gateway speaks no accepted protocol and none is connected", () => {
    assert.deepEqual(gatewayProtocolUnsupported(anInput(disconnected(UNSUPPORTED))), {
      reason: "ProtocolUnsupported",
      message: "Gateway gw-2 cannot speak a port-forward protocol the API server accepts (bad handshake); set spec.protocol to Auto.",
    });
  });

  it("gatewayProtocolUnsupported passes while another gateway is connected, or the target does not resolve", () => {
    assert.equal(gatewayProtocolUnsupported(anInput({ gateways: [CONNECTED, UNSUPPORTED] })), undefined);
    assert.equal(gatewayProtocolUnsupported(anInput({ ...disconnected(UNSUPPORTED), ...unresolved("PodNotFound") })), undefined);
    assert.equal(gatewayProtocolUnsupported(anInput(disconnected(FORBIDDEN))), undefined);
  });

  it("noLiveTunnel fails while gateways report but none holds a live tunnel to a ready pod", () => {
    assert.deepEqual(noLiveTunnel(anInput(disconnected(RECONNECTING, aConnectedGateway("gw-4", ["web-old"])))), {
      reason: "Reconnecting",
      message: "No gateway holds a live tunnel to a ready pod yet; gateways are reconnecting (gw-3: EOF; gw-4: not connected).",
    });
  });

  it("noLiveTunnel passes with a connected gateway, with no gateway at all, or while the target does not resolve", () => {
    assert.equal(noLiveTunnel(anInput({ gateways: [RECONNECTING, CONNECTED] })), undefined);
    assert.equal(noLiveTunnel(anInput(disconnected())), undefined);
    assert.equal(noLiveTunnel(anInput({ ...disconnected(RECONNECTING), ...unresolved("NoReadyPods") })), undefined);
  });

  it("describeDisconnected names at most three gateways, with their last error or reason", () => {
    const gateways = [RECONNECTING, FORBIDDEN, aGatewayEntry("gw-5", { reason: "Forbidden" }), aGatewayEntry("gw-6")];
    assert.equal(describeDisconnected(gateways), "gw-3: EOF; gw-1: pods is forbidden; gw-5: Forbidden");
    assert.equal(describeDisconnected([aGatewayEntry("gw-6")]), "gw-6: not connected");
  });
});

describe("firstFailure", () => {
  const fails =
    (reason: string): ReadinessPolicy =>
    () => ({ reason, message: reason });
  const passes: ReadinessPolicy = () => undefined;

  it("returns the failure of the first failing policy and runs none after it", () => {
    const never: ReadinessPolicy = () => assert.fail("ran a policy after the first failure");
    assert.deepEqual(firstFailure([passes, fails("A"), never], anInput()), { reason: "A", message: "A" });
  });

  it("returns undefined when every policy passes", () => {
    assert.equal(firstFailure([passes, passes], anInput()), undefined);
    assert.equal(firstFailure([], anInput()), undefined);
  });
});

describe("the chains", () => {
  it("READY_POLICIES is the precedence: person-fixable problems, then target → tunnel → Service", () => {
    assert.deepEqual(namesOf(READY_POLICIES), [
      "suspended",
      "serviceNameTaken",
      "gatewayPortsNotAllocated",
      "targetStalled",
      "gatewayForbidden",
      "gatewayProtocolUnsupported",
      "targetUnresolved",
      "noGatewayReporting",
      "noLiveTunnel",
      "serviceNotObserved",
    ]);
  });

  it("each detail condition has its own chain", () => {
    assert.deepEqual(namesOf(TARGET_RESOLVED_POLICIES), ["targetUnresolved"]);
    assert.deepEqual(namesOf(TUNNEL_CONNECTED_POLICIES), [
      "suspended",
      "tunnelWaitsForTarget",
      "noGatewayReporting",
      "gatewayForbidden",
      "gatewayProtocolUnsupported",
      "noLiveTunnel",
    ]);
    assert.deepEqual(namesOf(SERVICE_READY_POLICIES), ["serviceNameTaken", "gatewayPortsNotAllocated", "serviceNotObserved"]);
  });

  // Inputs on which two READY_POLICIES fail with different results; the earlier one must set Ready.
  const pairs: { earlier: ReadinessPolicy; later: ReadinessPolicy; input: ReadinessInput }[] = [
    { earlier: suspended, later: serviceNameTaken, input: anInput({ ...suspendedInput, ...conflict }) },
    { earlier: suspended, later: targetStalled, input: anInput({ ...suspendedInput, ...unresolved("PortNotExposed") }) },
    { earlier: suspended, later: noLiveTunnel, input: anInput(suspendedInput) },
    { earlier: serviceNameTaken, later: gatewayPortsNotAllocated, input: anInput({ ...conflict, ...exhausted }) },
    { earlier: serviceNameTaken, later: targetStalled, input: anInput({ ...conflict, ...unresolved("PortNotExposed") }) },
    { earlier: gatewayPortsNotAllocated, later: targetStalled, input: anInput({ ...exhausted, ...unresolved("PortNotExposed") }) },
    { earlier: gatewayPortsNotAllocated, later: targetUnresolved, input: anInput({ ...exhausted, ...unresolved("NoReadyPods") }) },
    { earlier: targetStalled, later: noGatewayReporting, input: anInput({ ...unresolved("PortNotExposed"), ...disconnected() }) },
    { earlier: gatewayForbidden, later: gatewayProtocolUnsupported, input: anInput(disconnected(UNSUPPORTED, FORBIDDEN)) },
    { earlier: gatewayForbidden, later: noLiveTunnel, input: anInput(disconnected(FORBIDDEN)) },
    { earlier: gatewayForbidden, later: serviceNotObserved, input: anInput({ ...disconnected(FORBIDDEN), ...notObserved }) },
    { earlier: gatewayProtocolUnsupported, later: noLiveTunnel, input: anInput(disconnected(UNSUPPORTED)) },
    { earlier: targetUnresolved, later: noGatewayReporting, input: anInput({ ...unresolved("NoReadyPods"), ...disconnected() }) },
    { earlier: targetUnresolved, later: serviceNotObserved, input: anInput({ ...unresolved("PodNotFound"), ...notObserved }) },
    { earlier: noGatewayReporting, later: serviceNotObserved, input: anInput({ ...disconnected(), ...notObserved }) },
    { earlier: noLiveTunnel, later: serviceNotObserved, input: anInput({ ...disconnected(RECONNECTING), ...notObserved }) },
  ];

  for (const { earlier, later, input } of pairs) {
    it(`when ${earlier.name} and ${later.name} both fail, ${earlier.name} sets Ready`, () => {
      const first = earlier(input);
      const second = later(input);
      assert.notEqual(first, undefined, `${earlier.name} fails on this input`);
      assert.notEqual(second, undefined, `${later.name} fails on this input`);
      assert.notDeepEqual(first, second);
      assert.ok(READY_POLICIES.indexOf(earlier) < READY_POLICIES.indexOf(later));
      const blocking = firstFailure(READY_POLICIES, input);
      assert.deepEqual(blocking, first);
      const ready = findCondition(conditionsFor(input, blocking, undefined, NOW), "Ready");
      assert.deepEqual([ready?.status, ready?.reason, ready?.message], ["False", first?.reason, first?.message]);
    });
  }

  const failingInputs = [
    ...pairs.map((p) => p.input),
    anInput(conflict),
    anInput(exhausted),
    anInput(notObserved),
    anInput(unresolved("PortNotExposed")),
    anInput(unresolved("ProtocolUnsupported")),
    anInput(unresolved("NoReadyPods")),
    anInput(unresolved("PodNotFound")),
    anInput(disconnected()),
    anInput(disconnected(FORBIDDEN)),
    anInput(disconnected(RECONNECTING)),
  ];

  it("Ready's cause is Stalled exactly when a policy after suspended and before targetUnresolved set it", () => {
    const boundary = READY_POLICIES.indexOf(targetUnresolved);
    for (const input of failingInputs) {
      const index = READY_POLICIES.findIndex((policy) => policy(input) !== undefined);
      assert.ok(index >= 0, "some policy fails on every input of failingInputs");
      const failure: PolicyFailure = READY_POLICIES[index]!(input)!;
      const stalled = index > READY_POLICIES.indexOf(suspended) && index < boundary;
      assert.equal(isStalledReason(failure.reason), stalled, `${READY_POLICIES[index]?.name}: ${failure.reason}`);
    }
  });

  it("a failing Ready quotes one of the detail conditions word for word", () => {
    for (const input of failingInputs) {
      const ready = firstFailure(READY_POLICIES, input);
      const details = [TARGET_RESOLVED_POLICIES, TUNNEL_CONNECTED_POLICIES, SERVICE_READY_POLICIES].map((chain) =>
        firstFailure(chain, input),
      );
      assert.ok(
        details.some((detail) => detail !== undefined && detail.reason === ready?.reason && detail.message === ready?.message),
        `Ready ${ready?.reason} is on no detail condition`,
      );
    }
  });
});
