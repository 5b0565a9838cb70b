import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "../../../src/observability/metrics.ts";
import { registerRemoteClusterMetrics } from "../../../src/remote/remote-metrics.ts";

describe("remote cluster metrics", () => {
  it("keeps one status series per Secret, for its current reason only", () => {
    const registry = new Registry();
    const metrics = registerRemoteClusterMetrics(registry)("controller");
    metrics.status("team-a", "cluster-b", "RemoteConnecting");
    metrics.status("team-a", "cluster-b", "Ready");
    let text = registry.expose();
    assert.match(
      text,
      /tunnelkeeper_remote_cluster_status\{component="controller",namespace="team-a",secret="cluster-b",reason="Ready"\} 1/,
    );
    assert.doesNotMatch(text, /RemoteConnecting/);
    metrics.status("team-a", "cluster-b", undefined);
    text = registry.expose();
    assert.doesNotMatch(text, /secret="cluster-b"/);
  });

  it("says which cluster each PortForward goes to, and forgets released ones", () => {
    const registry = new Registry();
    const metrics = registerRemoteClusterMetrics(registry)("controller");
    metrics.clusterOf("team-a/db", "https://b:6443");
    metrics.clusterOf("team-a/web", "local");
    let text = registry.expose();
    assert.match(
      text,
      /tunnelkeeper_portforward_cluster_info\{component="controller",portforward="team-a\/db",cluster="https:\/\/b:6443"\} 1/,
    );
    assert.match(text, /tunnelkeeper_portforward_cluster_info\{component="controller",portforward="team-a\/web",cluster="local"\} 1/);
    metrics.clusterOf("team-a/db", undefined);
    text = registry.expose();
    assert.doesNotMatch(text, /team-a\/db/);
  });
});
