import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeTarget, type ResolveResult, resolveTargets, type TargetObservation } from "../../../src/targets/resolve-targets.ts";
import { aDeployment, anEndpointSlice, aPod, aPortForward, aService } from "../../support/builders.ts";

function targetsOf(result: ResolveResult) {
  return result.targets.map((t) => ({ pod: t.pod, ready: t.ready, ports: t.ports.map((p) => `${p.port}:${p.targetPort}`) }));
}

describe("resolveTargets: remote clusters", () => {
  it("never resolves a remote PortForward's targets from an observation of this cluster", () => {
    const pf = aPortForward().withPodTarget("web-0").withRemoteCluster("other-cluster").build();
    const result = resolveTargets(pf, { pods: [aPod("web-0").build()] });
    assert.equal(result.ok, false);
    assert.equal(result.ok ? "" : result.reason, "RemoteConnecting");
    assert.deepEqual(result.targets, []);
  });

  it("resolves from the remote observation, in the remote namespace", () => {
    const pf = aPortForward().withPodTarget("web-0").withRemoteCluster("other-cluster").build();
    const remotePod = aPod("web-0").build();
    remotePod.metadata = { ...remotePod.metadata, namespace: "far" };
    const result = resolveTargets(pf, { remote: { namespace: "far" }, pods: [remotePod] });
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.targets.map((t) => t.pod),
      ["web-0"],
    );
  });

  it("fails with the reason of an observation that could not be made", () => {
    const pf = aPortForward().withPodTarget("web-0").withRemoteCluster("other-cluster").build();
    const result = resolveTargets(pf, {
      remote: { namespace: "far" },
      pods: [],
      unavailable: { reason: "RemoteUnauthorized", message: "rejected" },
    });
    assert.equal(result.ok ? "" : result.reason, "RemoteUnauthorized");
    assert.equal(result.ok ? "" : result.message, "rejected");
  });
});

describe("resolveTargets: pod target", () => {
  it("resolves a numeric targetPort even when the pod does not declare it", () => {
    const pf = aPortForward().withPodTarget("web-0").withPorts({ port: 80, targetPort: 8080 }).build();
    const result = resolveTargets(pf, { pods: [aPod("web-0").build()] });
    assert.equal(result.ok, true);
    assert.deepEqual(targetsOf(result), [{ pod: "web-0", ready: true, ports: ["80:8080"] }]);
    assert.equal(result.targets[0]!.uid, "uid-web-0");
  });

  it("resolves a named targetPort through the container ports, sidecars included", () => {
    const pf = aPortForward()
      .withPorts({ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9090, targetPort: "metrics" })
      .build();
    const pod = aPod("web-0").withContainerPort("http", 8080).withSidecarPort("metrics", 9102).build();
    assert.deepEqual(targetsOf(resolveTargets(pf, { pods: [pod] })), [{ pod: "web-0", ready: true, ports: ["80:8080", "9090:9102"] }]);
  });

  const failures: { name: string; pods: TargetObservation["pods"]; targetPort: number | string; reason: string; message: RegExp }[] = [
    { name: "missing pod", pods: [], targetPort: 8080, reason: "PodNotFound", message: /Pod "web-0" was not found in namespace "default"/ },
    {
      name: "pod in another namespace",
      pods: [aPod("web-0", "other").build()],
      targetPort: 8080,
      reason: "PodNotFound",
      message: /not found in namespace "default"/,
    },
    {
      name: "unknown port name",
      pods: [aPod("web-0").withContainerPort("grpc", 9000).build()],
      targetPort: "http",
      reason: "PortNotExposed",
      message: /no container port named "http" \(its named ports: grpc\)/,
    },
    {
      name: "UDP container port",
      pods: [aPod("web-0").withContainerPort("dns", 53, "UDP").build()],
      targetPort: "dns",
      reason: "ProtocolUnsupported",
      message: /is UDP; pods\/portforward carries TCP only/,
    },
    {
      name: "pod not ready",
      pods: [aPod("web-0").notReady().build()],
      targetPort: 8080,
      reason: "NoReadyPods",
      message: /1 pod matches but none is ready \(web-0\)/,
    },
    { name: "pod pending", pods: [aPod("web-0").pending().build()], targetPort: 8080, reason: "NoReadyPods", message: /none is ready/ },
    {
      name: "pod terminating",
      pods: [aPod("web-0").terminating().build()],
      targetPort: 8080,
      reason: "NoReadyPods",
      message: /none is ready/,
    },
  ];
  for (const c of failures) {
    it(`reports ${c.reason} for ${c.name}`, () => {
      const pf = aPortForward().withPodTarget("web-0").withPorts({ port: 80, targetPort: c.targetPort }).build();
      const result = resolveTargets(pf, { pods: c.pods });
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.reason, c.reason);
      assert.match(result.message, c.message);
    });
  }

  it("keeps not-ready pods in the targets of a NoReadyPods result", () => {
    const pf = aPortForward().withPodTarget("web-0").build();
    const result = resolveTargets(pf, { pods: [aPod("web-0").notReady().build()] });
    assert.deepEqual(targetsOf(result), [{ pod: "web-0", ready: false, ports: ["80:8080"] }]);
  });
});

describe("resolveTargets: selector and workload targets", () => {
  const pods = [
    aPod("web-b").withLabels({ app: "web" }).withContainerPort("http", 8080).build(),
    aPod("web-a").withLabels({ app: "web" }).withContainerPort("http", 8081).notReady().build(),
    aPod("web-c").withLabels({ app: "web" }).build(),
    aPod("db-0").withLabels({ app: "db" }).withContainerPort("http", 1).build(),
  ];

  it("selects matching pods, sorted by name, leaving out pods without the named port", () => {
    const pf = aPortForward().withSelectorTarget({ app: "web" }).withPorts({ port: 80, targetPort: "http" }).build();
    const result = resolveTargets(pf, { pods });
    assert.equal(result.ok, true);
    assert.deepEqual(targetsOf(result), [
      { pod: "web-a", ready: false, ports: ["80:8081"] },
      { pod: "web-b", ready: true, ports: ["80:8080"] },
    ]);
  });

  it("reports NoMatchingPods with the selector when nothing matches", () => {
    const pf = aPortForward().withSelectorTarget({ app: "api" }).build();
    const result = resolveTargets(pf, { pods });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "NoMatchingPods");
    assert.match(!result.ok ? result.message : "", /matches the selector app=api/);
  });

  it("resolves a Deployment through its selector", () => {
    const pf = aPortForward().withWorkloadTarget("Deployment", "web").withPorts({ port: 80, targetPort: 8080 }).build();
    const result = resolveTargets(pf, { pods, deployments: [aDeployment("web", { app: "web" })] });
    assert.deepEqual(
      result.targets.map((t) => t.pod),
      ["web-a", "web-b", "web-c"],
    );
  });

  it("reports WorkloadNotFound for a missing workload", () => {
    const pf = aPortForward().withWorkloadTarget("StatefulSet", "web").build();
    const result = resolveTargets(pf, { pods, deployments: [aDeployment("web", { app: "web" })] });
    assert.equal(!result.ok && result.reason, "WorkloadNotFound");
    assert.match(!result.ok ? result.message : "", /StatefulSet "web" was not found/);
  });

  it("reports NoMatchingPods for a workload without pods", () => {
    const pf = aPortForward().withWorkloadTarget("Deployment", "api").build();
    const result = resolveTargets(pf, { pods, deployments: [aDeployment("api", { app: "api" })] });
    assert.equal(!result.ok && result.reason, "NoMatchingPods");
    assert.match(!result.ok ? result.message : "", /Deployment "api" has no pods \(selector app=api\)/);
  });
});

describe("resolveTargets: service target", () => {
  const service = aService("db")
    .withSelector({ app: "db" })
    .withPorts({ name: "pg", port: 5432, targetPort: "postgres" }, { name: "dns", port: 53, protocol: "UDP", targetPort: 53 })
    .build();
  const pods = [
    aPod("db-0").withLabels({ app: "db" }).withContainerPort("postgres", 15432).build(),
    aPod("db-1").withLabels({ app: "db" }).withContainerPort("postgres", 15432).build(),
  ];
  const slices = [
    anEndpointSlice("db", "v4").withPort("pg", 25432).withEndpoint("db-0").withEndpoint("db-1", { ready: false }).build(),
    anEndpointSlice("db", "v6").withPort("pg", 25432).withEndpoint("db-1", { ready: true, terminating: true }).build(),
  ];

  it("maps the Service port through the EndpointSlices' resolved ports", () => {
    const pf = aPortForward().withServiceTarget("db").withPorts({ port: 5432, targetPort: "pg" }).build();
    const result = resolveTargets(pf, { pods, services: [service], endpointSlices: slices });
    assert.equal(result.ok, true);
    assert.deepEqual(targetsOf(result), [
      { pod: "db-0", ready: true, ports: ["5432:25432"] },
      { pod: "db-1", ready: false, ports: ["5432:25432"] },
    ]);
  });

  it("accepts the Service port by number", () => {
    const pf = aPortForward().withServiceTarget("db").withPorts({ port: 15000, targetPort: 5432 }).build();
    const result = resolveTargets(pf, { pods, services: [service], endpointSlices: slices });
    assert.deepEqual(result.targets[0]?.ports, [{ port: 15000, targetPort: 25432 }]);
  });

  it("falls back to the Service selector and container ports when there is no EndpointSlice", () => {
    const pf = aPortForward().withServiceTarget("db").withPorts({ port: 5432, targetPort: "pg" }).build();
    const result = resolveTargets(pf, { pods, services: [service], endpointSlices: [] });
    assert.deepEqual(targetsOf(result), [
      { pod: "db-0", ready: true, ports: ["5432:15432"] },
      { pod: "db-1", ready: true, ports: ["5432:15432"] },
    ]);
  });

  const failures: {
    name: string;
    targetPort: number | string;
    services: TargetObservation["services"];
    reason: string;
    message: RegExp;
  }[] = [
    { name: "a missing Service", targetPort: "pg", services: [], reason: "ServiceNotFound", message: /Service "db" was not found/ },
    {
      name: "a port the Service does not have",
      targetPort: 80,
      services: [service],
      reason: "PortNotExposed",
      message: /Service "db" has no port 80 \(its ports: 5432\/TCP "pg", 53\/UDP "dns"\)/,
    },
    {
      name: "a UDP Service port",
      targetPort: "dns",
      services: [service],
      reason: "ProtocolUnsupported",
      message: /Port 53 of Service "db" is UDP/,
    },
    {
      name: "an ExternalName Service",
      targetPort: "pg",
      services: [aService("db").withType("ExternalName").build()],
      reason: "NoMatchingPods",
      message: /ExternalName/,
    },
  ];
  for (const c of failures) {
    it(`reports ${c.reason} for ${c.name}`, () => {
      const pf = aPortForward().withServiceTarget("db").withPorts({ port: 5432, targetPort: c.targetPort }).build();
      const result = resolveTargets(pf, { pods, services: c.services, endpointSlices: slices });
      assert.equal(!result.ok && result.reason, c.reason);
      assert.match(!result.ok ? result.message : "", c.message);
    });
  }
});

describe("describeTarget", () => {
  const cases: [ReturnType<typeof aPortForward>, string][] = [
    [aPortForward().withPodTarget("x"), "pod/x"],
    [aPortForward().withServiceTarget("db"), "service/db"],
    [aPortForward().withWorkloadTarget("StatefulSet", "pg"), "statefulset/pg"],
    [aPortForward().withSelectorTarget({ app: "web" }), "selector app=web"],
  ];
  for (const [builder, expected] of cases) {
    it(`names ${expected}`, () => assert.equal(describeTarget(builder.build().spec.target), expected));
  }
});

describe("resolveTargets: spec.includeNotReadyPods", () => {
  const pods = [
    aPod("web-0").withLabels({ app: "web" }).build(),
    aPod("web-1").withLabels({ app: "web" }).notReady().build(),
    aPod("web-2").withLabels({ app: "web" }).pending().build(),
    aPod("web-3").withLabels({ app: "web" }).notReady().terminating().build(),
  ];
  const served = (result: ResolveResult) => result.targets.map((t) => [t.pod, t.ready, t.servedNotReady === true]);

  it("serves Running pods that are not ready, marked servedNotReady; never Pending or terminating ones", () => {
    const pf = aPortForward().withSelectorTarget({ app: "web" }).withSpecField("includeNotReadyPods", true).build();
    const result = resolveTargets(pf, { pods });
    assert.equal(result.ok, true);
    assert.deepEqual(served(result), [
      ["web-0", true, false],
      ["web-1", true, true],
      ["web-2", false, false],
      ["web-3", false, false],
    ]);
  });

  it("without it, a not-ready pod is not served (and alone it is NoReadyPods)", () => {
    const pf = aPortForward().withSelectorTarget({ app: "web" }).build();
    assert.deepEqual(served(resolveTargets(pf, { pods })), [
      ["web-0", true, false],
      ["web-1", false, false],
      ["web-2", false, false],
      ["web-3", false, false],
    ]);
    const alone = resolveTargets(aPortForward().withPodTarget("web-1").build(), { pods });
    assert.equal(alone.ok ? "" : alone.reason, "NoReadyPods");
  });

  it("resolves a pod target to its one not-ready Running pod", () => {
    const pf = aPortForward().withPodTarget("web-1").withSpecField("includeNotReadyPods", true).build();
    const result = resolveTargets(pf, { pods });
    assert.equal(result.ok, true);
    assert.deepEqual(served(result), [["web-1", true, true]]);
  });

  it("still fails with NoReadyPods when no pod is Running, and says that Running is required", () => {
    const pf = aPortForward().withPodTarget("web-2").withSpecField("includeNotReadyPods", true).build();
    const result = resolveTargets(pf, { pods });
    assert.equal(result.ok ? "" : result.reason, "NoReadyPods");
    assert.match(result.ok ? "" : result.message, /none is ready or Running \(spec.includeNotReadyPods serves Running pods only\)/);
  });

  it("serves a service target's not-ready endpoints whose pods are Running, never terminating ones", () => {
    const service = aService("web").withSelector({ app: "web" }).withPorts({ name: "http", port: 80, targetPort: 8080 }).build();
    const slices = [
      anEndpointSlice("web", "v4")
        .withPort("http", 8080)
        .withEndpoint("web-0")
        .withEndpoint("web-1", { ready: false })
        .withEndpoint("web-2", { ready: false })
        .withEndpoint("web-3", { ready: false, terminating: true })
        .withEndpoint("gone", { ready: false })
        .build(),
    ];
    const pf = aPortForward()
      .withServiceTarget("web")
      .withPorts({ port: 80, targetPort: "http" })
      .withSpecField("includeNotReadyPods", true)
      .build();
    assert.deepEqual(served(resolveTargets(pf, { pods, services: [service], endpointSlices: slices })), [
      ["gone", false, false],
      ["web-0", true, false],
      ["web-1", true, true],
      ["web-2", false, false],
      ["web-3", false, false],
    ]);
  });
});
