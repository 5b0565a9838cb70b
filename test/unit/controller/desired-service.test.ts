import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildDesiredService } from "../../../src/controller/desired-service.ts";
import { aPortForward } from "../../support/builders.ts";

describe("buildDesiredService", () => {
  it("states the full intent: name, type, ports to gateway ports, no selector, owner reference", () => {
    const pf = aPortForward("web")
      .withPorts({ name: "http", port: 80, targetPort: "http" }, { name: "admin", port: 9000, targetPort: 9000 })
      .build();
    const service = buildDesiredService(pf, [
      { name: "http", port: 80, gatewayPort: 20001 },
      { name: "admin", port: 9000, gatewayPort: 20002 },
    ]);
    assert.deepEqual(service, {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "web",
        namespace: "default",
        labels: { "app.kubernetes.io/managed-by": "tunnelkeeper", "tunnelkeeper.io/portforward": "web" },
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
      spec: {
        type: "ClusterIP",
        selector: {},
        ports: [
          { name: "http", port: 80, targetPort: 20001, protocol: "TCP" },
          { name: "admin", port: 9000, targetPort: 20002, protocol: "TCP" },
        ],
      },
    });
  });

  const labelCases: {
    name: string;
    spec: Record<string, unknown>;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  }[] = [
    {
      name: "takes spec.service labels and annotations, name and type",
      spec: { name: "db-fwd", type: "ClusterIP", labels: { team: "a" }, annotations: { "example.com/x": "1" } },
      labels: { team: "a", "app.kubernetes.io/managed-by": "tunnelkeeper", "tunnelkeeper.io/portforward": "web" },
      annotations: { "example.com/x": "1" },
    },
    {
      name: "never copies Argo CD's tracking label or annotation",
      spec: {
        labels: { "app.kubernetes.io/instance": "my-app", team: "a" },
        annotations: { "argocd.argoproj.io/tracking-id": "my-app:tunnelkeeper.io/PortForward:default/web" },
      },
      labels: { team: "a", "app.kubernetes.io/managed-by": "tunnelkeeper", "tunnelkeeper.io/portforward": "web" },
    },
    {
      name: "never lets user labels override tunnelkeeper's own",
      spec: { labels: { "app.kubernetes.io/managed-by": "helm", "tunnelkeeper.io/portforward": "other" } },
      labels: { "app.kubernetes.io/managed-by": "tunnelkeeper", "tunnelkeeper.io/portforward": "web" },
    },
  ];
  for (const c of labelCases) {
    it(c.name, () => {
      const pf = aPortForward("web").withService(c.spec).build();
      const service = buildDesiredService(pf, [{ port: 80, gatewayPort: 20001 }]);
      assert.deepEqual(service.metadata?.labels, c.labels);
      assert.deepEqual(service.metadata?.annotations, c.annotations);
    });
  }

  it("never copies the PortForward's own metadata labels and annotations (Argo CD tracking lives there)", () => {
    const pf = aPortForward("web")
      .withLabels({ "app.kubernetes.io/instance": "my-app" })
      .withAnnotations({ "argocd.argoproj.io/tracking-id": "x" })
      .build();
    const service = buildDesiredService(pf, [{ port: 80, gatewayPort: 20001 }]);
    assert.equal(service.metadata?.labels?.["app.kubernetes.io/instance"], undefined);
    assert.equal(service.metadata?.annotations, undefined);
  });

  it("uses spec.service.type and name; a LoadBalancer admits only the ipBlock ranges of spec.access", () => {
    const pf = aPortForward("web")
      .withService({ name: "public", type: "LoadBalancer" })
      .withSpecField("access", {
        from: [
          { ipBlock: { cidr: "198.51.100.0/24", except: ["198.51.100.7/32"] } },
          { namespaceSelector: {} },
          { ipBlock: { cidr: "2001:db8::/32" } },
        ],
      })
      .build();
    const service = buildDesiredService(pf, [{ port: 80, gatewayPort: 20001 }]);
    assert.equal(service.metadata?.name, "public");
    assert.equal(service.spec?.type, "LoadBalancer");
    assert.deepEqual(service.spec?.loadBalancerSourceRanges, ["198.51.100.0/24", "2001:db8::/32"]);
  });

  it("sets no loadBalancerSourceRanges on a NodePort or ClusterIP Service", () => {
    for (const type of ["NodePort", "ClusterIP"]) {
      const pf = aPortForward("web")
        .withService({ type })
        .withSpecField("access", { from: [{ ipBlock: { cidr: "10.0.0.0/8" } }] })
        .build();
      assert.equal(buildDesiredService(pf, [{ port: 80, gatewayPort: 20001 }]).spec?.loadBalancerSourceRanges, undefined);
    }
  });

  it("refuses to build a Service for a port without an allocation", () => {
    const pf = aPortForward("web").build();
    assert.throws(() => buildDesiredService(pf, []), /no gateway port allocated for port 80/);
  });
});
