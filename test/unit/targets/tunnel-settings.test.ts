import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePortForward } from "../../../src/api/portforward.ts";
import { tunnelSettingsFor } from "../../../src/targets/tunnel-settings.ts";
import { DEFAULT_KEEPALIVE_INTERVAL_MS } from "../../../src/tunnel/index.ts";

function portForward(spec: Record<string, unknown>) {
  const parsed = parsePortForward({
    apiVersion: "tunnelkeeper.io/v1alpha1",
    kind: "PortForward",
    metadata: { name: "pf", namespace: "ns", uid: "u1" },
    spec: { target: { pod: "p" }, ports: [{ port: 8080, targetPort: 8080 }], ...spec },
  });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

describe("tunnelSettingsFor", () => {
  it("defaults the keepalive period to the tunnel package's default", () => {
    const settings = tunnelSettingsFor(portForward({}));
    assert.equal(settings.keepaliveIntervalMs, DEFAULT_KEEPALIVE_INTERVAL_MS);
    assert.equal(settings.protocol, "Auto");
  });

  it("reads spec.keepalive.interval and spec.protocol", () => {
    const settings = tunnelSettingsFor(portForward({ keepalive: { interval: "30s" }, protocol: "Legacy" }));
    assert.equal(settings.keepaliveIntervalMs, 30_000);
    assert.equal(settings.protocol, "Legacy");
  });

  it("lets the caller override the protocol (the CLI's --protocol)", () => {
    assert.equal(tunnelSettingsFor(portForward({}), "Tunnel").protocol, "Tunnel");
  });

  it("gives equal keys for equal settings and different keys otherwise", () => {
    const a = tunnelSettingsFor(portForward({ keepalive: { interval: "10s" } }));
    const b = tunnelSettingsFor(portForward({}));
    const c = tunnelSettingsFor(portForward({ keepalive: { interval: "20s" } }));
    assert.equal(a.key, b.key);
    assert.notEqual(a.key, c.key);
    assert.notEqual(a.key, tunnelSettingsFor(portForward({}), "Legacy").key);
    const remote = tunnelSettingsFor(portForward({ cluster: { kubeconfigSecretRef: { name: "b" } } }));
    assert.notEqual(a.key, remote.key, "tunnels to another cluster are other tunnels");
  });
});
