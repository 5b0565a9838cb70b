// plan() for the Flux-style controls: spec.suspend (Ready=False Suspended, Service and ports kept,
// Normal Events only), the reconcile-request annotation (echoed in status.lastHandledReconcileAt)
// and spec.includeNotReadyPods (not-ready Running pods served, and said so in status).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findCondition } from "../../../src/controller/conditions.ts";
import { isStatusUnchanged, plan } from "../../../src/controller/plan.ts";
import { aConnectedGateway, aGatewayEntry, aPod, aPortForward } from "../../support/builders.ts";
import { NOW, observe, PREVIOUS_SERVICE_READY, previousReady } from "../../support/plan-inputs.ts";

const ready = previousReady;
const serviceReady = PREVIOUS_SERVICE_READY;

describe("plan: spec.suspend", () => {
  const suspendedPf = () =>
    aPortForward()
      .withSpecField("suspend", true)
      .withConditions(ready("True", "Forwarding"), serviceReady)
      .withGateways(aGatewayEntry("gw-0", { reason: "Suspended" }));

  it("is Ready=False Suspended, neither Stalled nor Reconciling, and keeps the Service, EndpointSlice and ports", () => {
    const result = plan(observe(suspendedPf()), NOW);
    const conditions = result.status.conditions ?? [];
    assert.deepEqual([findCondition(conditions, "Ready")?.status, findCondition(conditions, "Ready")?.reason], ["False", "Suspended"]);
    assert.equal(findCondition(conditions, "Stalled"), undefined);
    assert.equal(findCondition(conditions, "Reconciling"), undefined);
    assert.equal(findCondition(conditions, "ServiceReady")?.status, "True");
    assert.deepEqual(result.status.ports, [{ port: 80, gatewayPort: 20001 }], "the gateway ports stay allocated");
    assert.equal(result.service?.metadata?.name, "web");
    assert.ok(result.endpointSlice !== undefined);
    assert.equal(result.requeueAfterMs, 300_000, "settled: nothing to wait for");
  });

  it("records a Normal Suspended Event on suspending, no Warning", () => {
    const result = plan(observe(suspendedPf()), NOW);
    assert.deepEqual(
      result.events.map((e) => `${e.type}/${e.reason}`),
      ["Normal/Suspended"],
    );
  });

  it("records a Normal Resumed Event when Ready leaves Suspended, whatever it moves to", () => {
    const resumed = aPortForward()
      .withConditions(ready("False", "Suspended"), serviceReady)
      .withGateways(aConnectedGateway("gw-0", ["web-0"]));
    assert.deepEqual(
      plan(observe(resumed), NOW).events.map((e) => `${e.type}/${e.reason}`),
      ["Normal/Resumed", "Normal/Forwarding"],
    );
    const stillClosed = aPortForward()
      .withConditions(ready("False", "Suspended"), serviceReady)
      .withGateways(aGatewayEntry("gw-0", { reason: "Suspended" }));
    assert.deepEqual(
      plan(observe(stillClosed), NOW).events.map((e) => `${e.type}/${e.reason}`),
      ["Normal/Resumed"],
      "Reconnecting right after a resume is progress, not a Warning",
    );
  });
});

describe("plan: the reconcile-request annotation", () => {
  it("echoes tunnelkeeper.io/reconcile-requested-at in status.lastHandledReconcileAt", () => {
    const builder = aPortForward().withAnnotations({ "tunnelkeeper.io/reconcile-requested-at": "2026-03-01T11:59:00Z" });
    assert.equal(plan(observe(builder), NOW).status.lastHandledReconcileAt, "2026-03-01T11:59:00Z");
  });

  it("honours Flux's reconcile.fluxcd.io/requestedAt, and prefers tunnelkeeper's when both are set", () => {
    const flux = aPortForward().withAnnotations({ "reconcile.fluxcd.io/requestedAt": "flux-1" });
    assert.equal(plan(observe(flux), NOW).status.lastHandledReconcileAt, "flux-1");
    const both = aPortForward().withAnnotations({
      "reconcile.fluxcd.io/requestedAt": "flux-1",
      "tunnelkeeper.io/reconcile-requested-at": "tk-2",
    });
    assert.equal(plan(observe(both), NOW).status.lastHandledReconcileAt, "tk-2");
  });

  it("sets no lastHandledReconcileAt without a request", () => {
    assert.equal("lastHandledReconcileAt" in plan(observe(aPortForward()), NOW).status, false);
  });

  it("a new request value alone makes the status differ, so it is written", () => {
    const handled = aPortForward().withAnnotations({ "tunnelkeeper.io/reconcile-requested-at": "1" });
    const first = plan(observe(handled), NOW);
    const again = aPortForward().withAnnotations({ "tunnelkeeper.io/reconcile-requested-at": "2" });
    const second = plan(observe(again), NOW);
    assert.equal(isStatusUnchanged(first.status, second.status), false);
    assert.equal(second.status.lastHandledReconcileAt, "2");
  });
});

describe("plan: spec.includeNotReadyPods", () => {
  const pods = () => [
    aPod("web-0").withLabels({ app: "web" }).build(),
    aPod("web-1").withLabels({ app: "web" }).notReady().build(),
    aPod("web-2").withLabels({ app: "web" }).pending().build(),
  ];

  it("serves a Running pod that is not ready, and says so in status.pods, targets and the messages", () => {
    const builder = aPortForward()
      .withSelectorTarget({ app: "web" })
      .withSpecField("includeNotReadyPods", true)
      .withGateways(aConnectedGateway("gw-0", ["web-0", "web-1"]));
    const { status } = plan(observe(builder, { pods: pods() }), NOW);
    assert.equal(status.pods, "1/3 (+1 not ready)");
    assert.deepEqual(status.targets, [
      { pod: "web-0", ready: true, gateways: ["gw-0"] },
      { pod: "web-1", ready: false, servedNotReady: true, gateways: ["gw-0"] },
      { pod: "web-2", ready: false },
    ]);
    assert.equal(status.totals?.readyPods, 1);
    assert.equal(status.totals?.connectedPods, 2);
    const conditions = status.conditions ?? [];
    assert.equal(
      findCondition(conditions, "TargetResolved")?.message,
      "selector app=web resolved to 3 pods, 1 ready; serving 2 pods, 1 not ready (includeNotReadyPods).",
    );
    assert.equal(
      findCondition(conditions, "Ready")?.message,
      "Service web forwards to 2 pods, 1 not ready (includeNotReadyPods), through 1 gateway.",
    );
  });

  it("is Ready through a tunnel to a not-ready pod alone", () => {
    const builder = aPortForward()
      .withPodTarget("web-1")
      .withSpecField("includeNotReadyPods", true)
      .withGateways(aConnectedGateway("gw-0", ["web-1"]));
    const { status } = plan(observe(builder, { pods: pods() }), NOW);
    assert.equal(findCondition(status.conditions, "Ready")?.status, "True");
    assert.equal(status.pods, "0/1 (+1 not ready)");
  });

  it("without it, the same pods read as before: not-ready pods are not served", () => {
    const builder = aPortForward()
      .withSelectorTarget({ app: "web" })
      .withGateways(aConnectedGateway("gw-0", ["web-0"]));
    const { status } = plan(observe(builder, { pods: pods() }), NOW);
    assert.equal(status.pods, "1/3");
    assert.deepEqual(
      status.targets?.map((t) => [t.pod, t.ready, t.servedNotReady]),
      [
        ["web-0", true, undefined],
        ["web-1", false, undefined],
        ["web-2", false, undefined],
      ],
    );
    assert.equal(findCondition(status.conditions, "TargetResolved")?.message, "selector app=web resolved to 3 pods, 1 ready.");
  });
});
