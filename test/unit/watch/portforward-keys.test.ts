import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { V1EndpointSlice, V1Pod, V1Service } from "@kubernetes/client-node";
import { LABEL_MANAGED_BY, LABEL_PORTFORWARD, MANAGED_BY_VALUE } from "../../../src/api/identity.ts";
import type { PortForward } from "../../../src/api/portforward.ts";
import type { KubeObject } from "../../../src/runtime/store.ts";
import { type ConcernedOptions, enqueueConcernedPortForwards } from "../../../src/watch/portforward-keys.ts";
import { PORTFORWARD_TARGET_INDEX, portForwardTargetValues } from "../../../src/watch/portforward-target-index.ts";
import { anEndpointSlice, aPod, aPortForward, aService } from "../../support/builders.ts";
import { emptyKindCache, scriptedKindCache } from "../../support/scripted-kind-cache.ts";

type PF = PortForward & KubeObject;
const ns = "apps";

/** Caches of every kind with two PortForwards (a pod target and a Service target) and one enqueue log per options. */
function setup(options: ConcernedOptions) {
  const kinds = {
    portForwards: scriptedKindCache<PF>("portforwards", { [PORTFORWARD_TARGET_INDEX]: portForwardTargetValues }),
    pods: scriptedKindCache<V1Pod & KubeObject>("pods"),
    services: scriptedKindCache<V1Service & KubeObject>("services"),
    endpointSlices: scriptedKindCache<V1EndpointSlice & KubeObject>("endpointslices"),
  };
  const cache = {
    portForwards: kinds.portForwards.cache,
    pods: kinds.pods.cache,
    services: kinds.services.cache,
    endpointSlices: kinds.endpointSlices.cache,
    deployments: emptyKindCache(),
    statefulSets: emptyKindCache(),
    replicaSets: emptyKindCache(),
    daemonSets: emptyKindCache(),
  };
  const enqueued: string[] = [];
  enqueueConcernedPortForwards(cache as never, (key) => enqueued.push(key), options);
  return {
    kinds,
    enqueued,
    async start() {
      await kinds.portForwards.start([
        aPortForward("to-pod", ns).withPodTarget("web-0").build() as PF,
        aPortForward("to-db", ns).withServiceTarget("db").build() as PF,
        aPortForward("to-web", ns).withSelectorTarget({ app: "web" }).build() as PF,
      ]);
      await Promise.all([kinds.pods.start([]), kinds.services.start([]), kinds.endpointSlices.start([])]);
      enqueued.length = 0;
    },
    stop: () => Promise.all(Object.values(kinds).map((k) => k.stop())),
  };
}

const ownService = (owner: string) =>
  aService(owner, ns)
    .withLabels({ [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_PORTFORWARD]: owner })
    .build() as V1Service & KubeObject;
const ownSlice = (owner: string) => {
  const slice = anEndpointSlice(owner, "gw", ns).build();
  slice.metadata = { ...slice.metadata, labels: { ...slice.metadata?.labels, [LABEL_PORTFORWARD]: owner } };
  return slice as V1EndpointSlice & KubeObject;
};

describe("enqueueConcernedPortForwards", () => {
  const world = setup({});
  before(() => world.start());
  after(() => world.stop());
  beforeEach(() => {
    world.enqueued.length = 0;
  });

  it("maps a PortForward's own Service and EndpointSlice to it", () => {
    world.kinds.services.emit("ADDED", ownService("to-pod"));
    world.kinds.endpointSlices.emit("ADDED", ownSlice("to-pod"));
    assert.deepEqual(world.enqueued, [`${ns}/to-pod`, `${ns}/to-pod`]);
  });

  it("maps a Service a PortForward targets, and its EndpointSlices, to that PortForward", () => {
    world.kinds.services.emit("ADDED", aService("db", ns).build() as V1Service & KubeObject);
    world.kinds.endpointSlices.emit("ADDED", anEndpointSlice("db", "x", ns).withEndpoint("db-0").build() as V1EndpointSlice & KubeObject);
    assert.deepEqual(world.enqueued, [`${ns}/to-db`, `${ns}/to-db`]);
  });

  it("maps a pod to the PortForwards that may resolve through it", () => {
    world.kinds.pods.emit("ADDED", aPod("web-0", ns).withLabels({ app: "web" }).build() as V1Pod & KubeObject);
    assert.deepEqual(
      world.enqueued.sort(),
      [`${ns}/to-db`, `${ns}/to-pod`, `${ns}/to-web`],
      "by name, through the Service target's pods, by the selector",
    );
    world.enqueued.length = 0;
    world.kinds.pods.emit("ADDED", aPod("db-0", ns).withLabels({ app: "db" }).build() as V1Pod & KubeObject);
    assert.deepEqual(world.enqueued, [`${ns}/to-db`], "another pod: only the Service target may resolve through it");
    world.enqueued.length = 0;
    world.kinds.pods.emit("ADDED", aPod("web-0", "elsewhere").withLabels({ app: "web" }).build() as V1Pod & KubeObject);
    assert.deepEqual(world.enqueued, [], "a pod of another namespace concerns none of them");
  });
});
