import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import type { GatewayStatus } from "../../../src/api/status.ts";
import { ACCESS_DENIED_WINDOW_MS, accessDeniedCause } from "../../../src/controller/access-denied.ts";
import { accessLogFields } from "../../../src/gateway/access-log.ts";
import type { ConnectionRecord } from "../../../src/gateway/forwarder.ts";
import { countersChanged, isSignificantChange } from "../../../src/gateway/gateway-status.ts";
import { slimPod } from "../../../src/gateway/peer-cache.ts";

const base: ConnectionRecord = {
  clientAddress: "10.244.0.9",
  clientPort: 40112,
  client: { namespace: "shop", name: "client-0", labels: { app: "c" } },
  port: 5432,
  targetPod: "db-0",
  bytesUp: 12,
  bytesDown: 3400,
  durationMs: 1523.456,
  result: "completed",
  decision: { allowed: true, peer: -1 },
  error: undefined,
};

describe("access log", () => {
  it("names the PortForward, client pod, target pod, gateway, bytes each way, duration and result ok", () => {
    assert.deepEqual(accessLogFields("shop/db", "gw-0", base), {
      portforward: "shop/db",
      gateway: "gw-0",
      client: "10.244.0.9",
      clientPort: 40112,
      clientNamespace: "shop",
      clientPod: "client-0",
      port: 5432,
      targetPod: "db-0",
      bytesUp: 12,
      bytesDown: 3400,
      durationMs: 1523.5,
      result: "ok",
    });
  });

  it("a denied connection has its reason, no target pod and no client pod when unattributed", () => {
    const fields = accessLogFields("shop/db", "gw-0", {
      ...base,
      client: undefined,
      targetPod: undefined,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: 0.2,
      result: "denied",
      decision: { allowed: false, reason: "source_unknown" },
    });
    assert.equal(fields.result, "denied");
    assert.equal(fields.reason, "source_unknown");
    assert.equal("targetPod" in fields, false);
    assert.equal("clientPod" in fields, false);
  });

  it("an upstream error carries its message", () => {
    const fields = accessLogFields("shop/db", "gw-0", { ...base, result: "upstream_error", error: "connection refused" });
    assert.equal(fields.result, "upstream_error");
    assert.equal(fields.error, "connection refused");
  });
});

describe("peer cache: slimPod", () => {
  const full: V1Pod = {
    metadata: { name: "a", namespace: "n", resourceVersion: "7", labels: { app: "x" }, annotations: { big: "y".repeat(1000) } },
    spec: { containers: [{ name: "c", image: "i" }] },
    status: { phase: "Running", podIP: "10.0.0.5", podIPs: [{ ip: "10.0.0.5" }, { ip: "fd00::5" }] },
  };

  it("keeps only name, namespace, labels and IPs", () => {
    assert.deepEqual(slimPod(full), {
      metadata: { name: "a", namespace: "n", resourceVersion: "7", labels: { app: "x" } },
      ips: ["10.0.0.5", "fd00::5"],
    });
  });

  it("never attributes hostNetwork or finished pods", () => {
    assert.deepEqual(slimPod({ ...full, spec: { ...full.spec!, hostNetwork: true } }).ips, []);
    assert.deepEqual(slimPod({ ...full, status: { ...full.status, phase: "Succeeded" } }).ips, []);
    assert.deepEqual(slimPod({ ...full, status: { ...full.status, phase: "Failed" } }).ips, []);
  });
});

describe("refusals in status", () => {
  const entry: GatewayStatus = { pod: "gw-0", connected: true, activeConnections: 1, reconnects: 0, since: "2026-01-01T00:00:00Z" };
  const denied = (count: number, time: string): GatewayStatus => ({
    ...entry,
    deniedConnections: count,
    lastDenied: { time, source: "10.244.0.9", client: "other/client", reason: "PeerNotAllowed" },
  });

  it("the first refusal is written at once, later ones as counters", () => {
    assert.equal(isSignificantChange(entry, denied(1, "2026-01-01T00:00:01Z")), true);
    assert.equal(isSignificantChange(denied(1, "2026-01-01T00:00:01Z"), denied(2, "2026-01-01T00:00:02Z")), false);
    assert.equal(countersChanged(denied(1, "2026-01-01T00:00:01Z"), denied(2, "2026-01-01T00:00:02Z")), true);
  });

  it("AccessDenied names the latest refused client and says how to admit it, then lapses", () => {
    const now = new Date("2026-01-01T00:05:00Z");
    const cause = accessDeniedCause([denied(3, "2026-01-01T00:04:00Z"), entry], now);
    assert.equal(cause?.reason, "PeerNotAllowed");
    assert.match(cause?.message ?? "", /10\.244\.0\.9 \(pod other\/client\).*spec\.access\.from.*3 connections refused/);
    assert.equal(cause?.expiresInMs, ACCESS_DENIED_WINDOW_MS - 60_000);
    assert.equal(
      accessDeniedCause([denied(3, "2026-01-01T00:04:00Z")], new Date(Date.parse("2026-01-01T00:04:00Z") + ACCESS_DENIED_WINDOW_MS)),
      undefined,
    );
    assert.equal(accessDeniedCause([entry], now), undefined);
  });
});
