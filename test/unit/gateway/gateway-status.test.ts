import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ForwarderSnapshot } from "../../../src/gateway/forwarder.ts";
import { buildGatewayEntry, isSignificantChange } from "../../../src/gateway/gateway-status.ts";

const NOW = new Date("2026-01-01T00:00:00Z");

function snapshot(over: Partial<ForwarderSnapshot> = {}): ForwarderSnapshot {
  return {
    connectedTargets: ["web-0"],
    protocol: "SPDY/3.1+portforward.k8s.io",
    warm: true,
    activeConnections: 0,
    reconnects: 0,
    lastFailure: undefined,
    firstDialPending: false,
    lastConnectionError: undefined,
    listening: new Map([[80, 20080]]),
    serving: true,
    listenErrors: [],
    ...over,
  };
}

describe("buildGatewayEntry connected", () => {
  it("is connected with a live tunnel to a ready pod and a listener on every gateway port", () => {
    assert.equal(buildGatewayEntry("gw-0", snapshot(), true, undefined, NOW).connected, true);
  });

  it("is not connected while a gateway port has no listener yet, though the tunnel is open", () => {
    const entry = buildGatewayEntry("gw-0", snapshot({ serving: false, listening: new Map() }), true, undefined, NOW);
    assert.equal(entry.connected, false);
    assert.deepEqual(entry.connectedTargets, ["web-0"], "the tunnel is still reported");
  });

  it("restarts `since` when it becomes connected", () => {
    const before = buildGatewayEntry("gw-0", snapshot({ serving: false }), true, undefined, new Date("2026-01-01T00:00:00Z"));
    const after = buildGatewayEntry("gw-0", snapshot(), true, before, new Date("2026-01-01T00:00:05Z"));
    assert.equal(after.since, "2026-01-01T00:00:05.000Z");
  });
});

describe("buildGatewayEntry lastError", () => {
  it("reports why a client connection failed on the pod side while the tunnel stays connected", () => {
    const entry = buildGatewayEntry(
      "gw-0",
      snapshot({ lastConnectionError: "pod web-0: port-forward to port 8080 failed: connection refused" }),
      true,
      undefined,
      NOW,
    );
    assert.equal(entry.connected, true);
    assert.equal(entry.reason, undefined);
    assert.equal(entry.lastError, "pod web-0: port-forward to port 8080 failed: connection refused");
  });

  it("prefers a listener error, then a tunnel failure, over a failed connection", () => {
    const failure = { reason: "Network" as const, message: "dial failed" };
    const both = snapshot({ connectedTargets: [], lastFailure: failure, lastConnectionError: "pod web-0: refused" });
    assert.equal(buildGatewayEntry("gw-0", both, true, undefined, NOW).lastError, "dial failed");
    const listen = snapshot({
      listenErrors: ["cannot listen on 0.0.0.0:20080: EADDRINUSE"],
      lastFailure: failure,
      lastConnectionError: "x",
    });
    assert.equal(buildGatewayEntry("gw-0", listen, true, undefined, NOW).lastError, "cannot listen on 0.0.0.0:20080: EADDRINUSE");
  });

  it("a new connection error is written at once (not only with the counters)", () => {
    const before = buildGatewayEntry("gw-0", snapshot(), true, undefined, NOW);
    const after = buildGatewayEntry("gw-0", snapshot({ lastConnectionError: "pod web-0: refused" }), true, before, NOW);
    assert.equal(isSignificantChange(before, after), true);
  });
});

describe("buildGatewayEntry suspended (spec.suspend)", () => {
  it("says Suspended, not connected, once the tunnels and listeners are closed", () => {
    const closed = snapshot({ connectedTargets: [], serving: false, listening: new Map() });
    const entry = buildGatewayEntry("gw-0", closed, false, undefined, NOW, undefined, true);
    assert.equal(entry.connected, false);
    assert.equal(entry.reason, "Suspended");
  });

  it("says Suspended rather than a tunnel failure while suspended, and the failure otherwise", () => {
    const failing = snapshot({ connectedTargets: [], lastFailure: { reason: "Forbidden", message: "forbidden" } });
    assert.equal(buildGatewayEntry("gw-0", failing, false, undefined, NOW, undefined, true).reason, "Suspended");
    assert.equal(buildGatewayEntry("gw-0", failing, true, undefined, NOW).reason, "Forbidden");
  });
});
