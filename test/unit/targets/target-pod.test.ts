import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { resolveTargets } from "../../../src/targets/resolve-targets.ts";
import { targetPod } from "../../../src/targets/target-pod.ts";
import { aPod, aPortForward } from "../../support/builders.ts";

/** A Pod as the API server sends one (managedFields already gone), with what target resolution never reads. */
const full: V1Pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-0",
    namespace: "shop",
    uid: "u-1",
    resourceVersion: "41",
    labels: { app: "web" },
    annotations: { "kubectl.kubernetes.io/restartedAt": "now" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7f", uid: "u-rs", controller: true }],
    creationTimestamp: new Date(0),
    deletionTimestamp: new Date(1000),
  },
  spec: {
    nodeName: "node-0",
    serviceAccountName: "web",
    tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }],
    volumes: [{ name: "token", projected: { sources: [] } }],
    initContainers: [
      { name: "migrate", image: "web:1", ports: [{ name: "x", containerPort: 1 }] },
      { name: "proxy", image: "envoy:1", restartPolicy: "Always", ports: [{ name: "admin", containerPort: 9901, protocol: "TCP" }] },
    ],
    containers: [
      {
        name: "web",
        image: "web:1",
        env: [{ name: "A", value: "1" }],
        ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
        volumeMounts: [{ name: "token", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }],
      },
      { name: "worker", image: "web:1" },
    ],
  },
  status: {
    phase: "Running",
    podIP: "10.244.0.7",
    podIPs: [{ ip: "10.244.0.7" }],
    conditions: [{ type: "Ready", status: "True", lastTransitionTime: new Date(0), reason: "r", message: "m" }],
    containerStatuses: [{ name: "web", image: "web:1", imageID: "", ready: true, restartCount: 0 }],
  },
};

describe("targetPod (what the cluster cache keeps of a Pod)", () => {
  it("keeps identity, labels, deletionTimestamp, container names and ports, sidecars, phase and condition type/status", () => {
    assert.deepEqual(targetPod(full), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web-0",
        namespace: "shop",
        uid: "u-1",
        resourceVersion: "41",
        labels: { app: "web" },
        deletionTimestamp: new Date(1000),
      },
      spec: {
        containers: [{ name: "web", ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }] }, { name: "worker" }],
        initContainers: [{ name: "proxy", ports: [{ name: "admin", containerPort: 9901, protocol: "TCP" }], restartPolicy: "Always" }],
      },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    });
  });

  it("keeps a pod without spec or status resolvable (empty containers, no phase)", () => {
    assert.deepEqual(targetPod({ metadata: { name: "a", namespace: "n" } }), {
      metadata: { name: "a", namespace: "n" },
      spec: { containers: [] },
      status: {},
    });
  });

  it("resolves every target the same as the full pod does", () => {
    const pods = [
      aPod("web-0").withContainerPort("http", 8080).withSidecarPort("metrics", 9102).build(),
      aPod("web-1").withContainerPort("http", 8080).notReady().build(),
      aPod("web-2").withContainerPort("http", 8080).terminating().build(),
    ];
    for (const pf of [
      aPortForward().withSelectorTarget({ app: "web" }).withPorts({ port: 80, targetPort: "http" }).build(),
      aPortForward()
        .withSelectorTarget({ app: "web" })
        .withPorts({ port: 9102, targetPort: "metrics" })
        .withSpecField("includeNotReadyPods", true)
        .build(),
      aPortForward()
        .withPodTarget("web-0")
        .withPorts({ name: "a", port: 81, targetPort: 8081 }, { name: "b", port: 82, targetPort: "http" })
        .build(),
    ]) {
      assert.deepEqual(resolveTargets(pf, { pods: pods.map(targetPod) }), resolveTargets(pf, { pods }));
    }
  });
});
