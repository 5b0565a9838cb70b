import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { isServiceOwnedBy } from "../../../src/api/owned-objects.ts";
import type { PortForward } from "../../../src/api/portforward.ts";
import { type GatewayPortRecord, gatewayPortRecords } from "../../../src/controller/allocate-ports.ts";
import {
  buildDesiredPodService,
  type DesiredPodService,
  obsoletePodObjects,
  type PodServiceInput,
  planPodServices,
} from "../../../src/controller/desired-pod-services.ts";
import { aPortForward, aService } from "../../support/builders.ts";

const RANGE = { min: 20000, max: 20099 };
const GATEWAY = { pod: "gw-0", namespace: "tunnelkeeper", ip: "10.0.0.5" };

function perPod(name = "db"): PortForward {
  return aPortForward(name)
    .withSelectorTarget({ app: "db" })
    .withPorts({ name: "pg", port: 5432, targetPort: 5432 }, { name: "metrics", port: 9187, targetPort: 9187 })
    .withService({ perPod: true })
    .build();
}

function inputFor(pf: PortForward, fields: Partial<PodServiceInput> = {}): PodServiceInput {
  return {
    portForward: pf,
    serviceName: "db",
    allocation: [
      { name: "pg", port: 5432, gatewayPort: 20000 },
      { name: "metrics", port: 9187, gatewayPort: 20001 },
    ],
    pods: ["db-1", "db-0", "db-2"],
    services: [],
    isOwned: (service) => isServiceOwnedBy(service, pf),
    gatewayPortRecords: [
      { owner: "default/db", port: 5432, gatewayPort: 20000 },
      { owner: "default/db", port: 9187, gatewayPort: 20001 },
    ],
    gatewayPortRange: RANGE,
    gatewayEndpoints: [GATEWAY],
    ...fields,
  };
}

function planned(input: PodServiceInput): { objects: readonly DesiredPodService[]; status: ReturnType<typeof statusOf> } {
  const result = planPodServices(input);
  assert.ok(result.ok, result.ok ? "" : result.message);
  return { objects: result.objects, status: statusOf(result) };
}

function statusOf(result: ReturnType<typeof planPodServices>) {
  return result.ok ? result.status : [];
}

/** The per-pod Services as the API server would store them (for records and ownership). */
function stored(objects: readonly DesiredPodService[]): V1Service[] {
  return objects.map((o) => structuredClone(o.service));
}

describe("planPodServices", () => {
  it("plans nothing with perPod off", () => {
    const pf = aPortForward("db").withSelectorTarget({ app: "db" }).build();
    assert.deepEqual(planPodServices(inputFor(pf)), { ok: true, objects: [], status: [] });
  });

  it("gives each target pod, by name, a Service named by its ordinal with gateway ports of its own", () => {
    const { status } = planned(inputFor(perPod()));
    assert.deepEqual(
      status.map((s) => [s.pod, s.service, s.ports.map((p) => [p.name, p.port])]),
      ["db-0", "db-1", "db-2"].map((pod) => [
        pod,
        pod,
        [
          ["pg", 5432],
          ["metrics", 9187],
        ],
      ]),
    );
    const gatewayPorts = [20000, 20001, ...status.flatMap((s) => s.ports.map((p) => p.gatewayPort))];
    assert.equal(new Set(gatewayPorts).size, 8, "no gateway port is shared with the Service or between pods");
    assert.ok(gatewayPorts.every((p) => p >= RANGE.min && p <= RANGE.max));
  });

  it("keeps every (pod, port)'s gateway port across a restart: the per-pod Services are the record", () => {
    const pf = perPod();
    const first = planned(inputFor(pf));
    const records: GatewayPortRecord[] = gatewayPortRecords([
      aService("db").ownedBy(pf).withPorts({ port: 5432, targetPort: 20000 }, { port: 9187, targetPort: 20001 }).build(),
      ...stored(first.objects),
    ]);
    // Pods listed in another order, a new pod added: the existing ones keep their ports.
    const again = planned(inputFor(pf, { gatewayPortRecords: records, pods: ["db-3", "db-2", "db-1", "db-0"] }));
    assert.deepEqual(again.status.slice(0, 3), first.status);
    const taken = new Set(first.status.flatMap((s) => s.ports.map((p) => p.gatewayPort)));
    assert.ok(again.status[3]!.ports.every((p) => !taken.has(p.gatewayPort) && p.gatewayPort > 20001));
  });

  it("never takes a gateway port another PortForward claims", () => {
    const others: GatewayPortRecord[] = Array.from({ length: 90 }, (_, i) => ({
      owner: "other/pf",
      port: 1000 + i,
      gatewayPort: 20002 + i,
    }));
    const { status } = planned(inputFor(perPod(), { gatewayPortRecords: others }));
    const ports = status.flatMap((s) => s.ports.map((p) => p.gatewayPort)).sort();
    assert.deepEqual(ports, [20092, 20093, 20094, 20095, 20096, 20097]);
  });

  it("fails, planning nothing, when the range has no gateway ports left for the pods", () => {
    const others: GatewayPortRecord[] = Array.from({ length: 96 }, (_, i) => ({
      owner: "other/pf",
      port: 1000 + i,
      gatewayPort: 20002 + i,
    }));
    const result = planPodServices(inputFor(perPod(), { gatewayPortRecords: others }));
    assert.equal(result.ok, false);
  });

  it("leaves out a pod whose Service name belongs to a Service the PortForward does not own", () => {
    const foreign = aService("db-1").withPorts({ port: 5432, targetPort: 5432 }).build();
    const { status } = planned(inputFor(perPod(), { services: [foreign] }));
    assert.deepEqual(
      status.map((s) => s.pod),
      ["db-0", "db-2"],
    );
  });
});

describe("buildDesiredPodService", () => {
  it("is the PortForward's Service renamed onto the pod's gateway ports, labelled with its pod, with its EndpointSlice", () => {
    const pf = perPod();
    const allocation = [
      { name: "pg", port: 5432, gatewayPort: 20010 },
      { name: "metrics", port: 9187, gatewayPort: 20011 },
    ];
    const { service, endpointSlice } = buildDesiredPodService(pf, "db-0", "db-0", allocation, [GATEWAY]);
    const owner = {
      apiVersion: "tunnelkeeper.io/v1alpha1",
      kind: "PortForward",
      name: "db",
      uid: "uid-db",
      controller: true,
      blockOwnerDeletion: true,
    };
    const labels = { "app.kubernetes.io/managed-by": "tunnelkeeper", "tunnelkeeper.io/portforward": "db", "tunnelkeeper.io/pod": "db-0" };
    assert.deepEqual(service, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "db-0", namespace: "default", labels, ownerReferences: [owner] },
      spec: {
        type: "ClusterIP",
        selector: {},
        ports: [
          { name: "pg", port: 5432, targetPort: 20010, protocol: "TCP" },
          { name: "metrics", port: 9187, targetPort: 20011, protocol: "TCP" },
        ],
      },
    });
    assert.deepEqual(endpointSlice.metadata, {
      name: "db-0-tunnelkeeper",
      namespace: "default",
      labels: {
        "kubernetes.io/service-name": "db-0",
        "endpointslice.kubernetes.io/managed-by": "controller.tunnelkeeper.io",
        ...labels,
      },
      ownerReferences: [owner],
    });
    assert.deepEqual(
      endpointSlice.ports?.map((p) => p.port),
      [20010, 20011],
    );
    assert.deepEqual(
      endpointSlice.endpoints?.map((e) => e.addresses),
      [["10.0.0.5"]],
    );
  });
});

describe("obsoletePodObjects", () => {
  it("lists the PortForward's per-pod Services and EndpointSlices that are not wanted, and nothing else", () => {
    const pf = perPod();
    const wanted = planned(inputFor(pf, { pods: ["db-0"] })).objects;
    const gone = planned(inputFor(pf, { pods: ["db-0", "db-1"] })).objects;
    const services: V1Service[] = [
      ...stored(gone),
      aService("db").ownedBy(pf).build(),
      aService("db-9").withLabels({ "tunnelkeeper.io/portforward": "db", "tunnelkeeper.io/pod": "db-9" }).build(),
    ];
    const slices: V1EndpointSlice[] = gone.map((o) => structuredClone(o.endpointSlice));
    const isOwned = (object: V1Service | V1EndpointSlice) => isServiceOwnedBy(object, pf);
    assert.deepEqual(obsoletePodObjects(pf, wanted, services, slices, isOwned), {
      services: ["db-1"],
      endpointSlices: ["db-1-tunnelkeeper"],
    });
    assert.deepEqual(obsoletePodObjects(pf, [], services, slices, isOwned), {
      services: ["db-0", "db-1"],
      endpointSlices: ["db-0-tunnelkeeper", "db-1-tunnelkeeper"],
    });
  });
});
