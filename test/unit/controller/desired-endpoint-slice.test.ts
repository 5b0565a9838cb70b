import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildDesiredEndpointSlice } from "../../../src/controller/desired-endpoint-slice.ts";
import { aPortForward } from "../../support/builders.ts";

describe("buildDesiredEndpointSlice", () => {
  const pf = aPortForward("web")
    .withPorts({ name: "http", port: 80, targetPort: "http" }, { name: "admin", port: 9000, targetPort: 9000 })
    .build();
  const allocation = [
    { name: "http", port: 80, gatewayPort: 20001 },
    { name: "admin", port: 9000, gatewayPort: 20002 },
  ];

  it("lists the gateway pods with IPs as ready endpoints on the allocated gateway ports", () => {
    const slice = buildDesiredEndpointSlice(pf, allocation, [
      { pod: "gw-b", namespace: "tunnelkeeper-system", ip: "10.244.0.8" },
      { pod: "gw-a", namespace: "tunnelkeeper-system", ip: "10.244.0.7" },
      { pod: "laptop", namespace: "tunnelkeeper-system", ip: "" },
    ]);
    assert.deepEqual(slice, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "web-tunnelkeeper",
        namespace: "default",
        labels: {
          "kubernetes.io/service-name": "web",
          "endpointslice.kubernetes.io/managed-by": "controller.tunnelkeeper.io",
          "app.kubernetes.io/managed-by": "tunnelkeeper",
          "tunnelkeeper.io/portforward": "web",
        },
        ownerReferences: [
          {
            apiVersion: "tunnelkeeper.io/v1alpha1",
            kind: "PortForward",
            name: "web",
            uid: "uid-web",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      addressType: "IPv4",
      ports: [
        { name: "http", port: 20001, protocol: "TCP" },
        { name: "admin", port: 20002, protocol: "TCP" },
      ],
      endpoints: [
        {
          addresses: ["10.244.0.7"],
          conditions: { ready: true, serving: true, terminating: false },
          targetRef: { kind: "Pod", namespace: "tunnelkeeper-system", name: "gw-a" },
        },
        {
          addresses: ["10.244.0.8"],
          conditions: { ready: true, serving: true, terminating: false },
          targetRef: { kind: "Pod", namespace: "tunnelkeeper-system", name: "gw-b" },
        },
      ],
    });
  });

  it("uses an IPv6 slice when every gateway address is IPv6", () => {
    const slice = buildDesiredEndpointSlice(pf, allocation, [{ pod: "gw-a", namespace: "ns", ip: "fd00::7" }]);
    assert.equal(slice.addressType, "IPv6");
    assert.deepEqual(
      slice.endpoints?.map((e) => e.addresses),
      [["fd00::7"]],
    );
  });

  it("has no endpoints (but keeps its ports) when no gateway runs in a pod", () => {
    const slice = buildDesiredEndpointSlice(pf, allocation, [{ pod: "laptop", namespace: "ns", ip: "" }]);
    assert.deepEqual(slice.endpoints, []);
    assert.equal(slice.ports?.length, 2);
  });
});
