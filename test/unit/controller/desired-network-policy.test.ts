import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildDesiredNetworkPolicy, networkPolicyNameOf } from "../../../src/controller/desired-network-policy.ts";
import { aPortForward } from "../../support/builders.ts";

const settings = { namespace: "tunnelkeeper-system", gatewayPodLabels: { "app.kubernetes.io/component": "gateway" } };

describe("buildDesiredNetworkPolicy", () => {
  it("admits, on exactly the gateway ports, the PortForward's own namespace by default", () => {
    const pf = aPortForward("db", "shop").build();
    const policy = buildDesiredNetworkPolicy(pf, [20002, 20001], settings);
    assert.equal(policy.metadata.name, "pf.shop.db");
    assert.equal(policy.metadata.namespace, "tunnelkeeper-system");
    assert.equal(policy.metadata.annotations["tunnelkeeper.io/portforward-key"], "shop/db");
    assert.equal(policy.metadata.labels["app.kubernetes.io/managed-by"], "tunnelkeeper");
    assert.deepEqual(policy.spec.podSelector, { matchLabels: { "app.kubernetes.io/component": "gateway" } });
    assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
    assert.deepEqual(policy.spec.ingress, [
      {
        ports: [
          { protocol: "TCP", port: 20001 },
          { protocol: "TCP", port: 20002 },
        ],
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "shop" } } }],
      },
    ]);
  });

  it("translates peers relative to the PortForward's namespace into the gateway namespace", () => {
    const pf = aPortForward("db", "shop")
      .withSpecField("access", {
        from: [
          { podSelector: { matchLabels: { app: "api" } } },
          { namespaceSelector: { matchLabels: { team: "a" } } },
          { namespaceSelector: {}, podSelector: { matchLabels: { role: "backup" } } },
          { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
        ],
      })
      .build();
    assert.deepEqual(buildDesiredNetworkPolicy(pf, [20001], settings).spec.ingress[0]?.from, [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "shop" } }, podSelector: { matchLabels: { app: "api" } } },
      { namespaceSelector: { matchLabels: { team: "a" } } },
      { namespaceSelector: {}, podSelector: { matchLabels: { role: "backup" } } },
      { ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } },
    ]);
  });

  it("admits nothing before gateway ports are allocated", () => {
    assert.deepEqual(buildDesiredNetworkPolicy(aPortForward("db").build(), [], settings).spec.ingress, []);
  });

  it("names are unique per namespace/name and at most 253 characters", () => {
    assert.notEqual(networkPolicyNameOf("a-b", "c"), networkPolicyNameOf("a", "b-c"));
    const long = networkPolicyNameOf("ns", "x".repeat(253));
    assert.ok(long.length <= 253);
    assert.notEqual(long, networkPolicyNameOf("ns", `${"x".repeat(252)}y`));
  });
});
