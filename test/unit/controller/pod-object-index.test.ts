import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LABEL_POD, LABEL_PORTFORWARD } from "../../../src/api/identity.ts";
import { PodObjectIndex } from "../../../src/controller/pod-object-index.ts";
import type { ChangeHandler } from "../../../src/runtime/informer.ts";
import type { KubeObject } from "../../../src/runtime/store.ts";

function kind() {
  const handlers: ChangeHandler<KubeObject>[] = [];
  return {
    addHandler: (handler: ChangeHandler<KubeObject>) => handlers.push(handler),
    change: (old: KubeObject | undefined, next: KubeObject | undefined) => {
      const key = `${(next ?? old)?.metadata?.namespace}/${(next ?? old)?.metadata?.name}`;
      for (const handler of handlers) handler({ key, old, new: next });
    },
  };
}

function object(name: string, labels: Record<string, string>): KubeObject {
  return { metadata: { name, namespace: "ns", labels } };
}

describe("PodObjectIndex", () => {
  it("knows a PortForward's per-pod Services and EndpointSlices from the cache's changes, until the last one goes", () => {
    const services = kind();
    const endpointSlices = kind();
    const index = new PodObjectIndex({ services, endpointSlices });
    const service = object("web-0", { [LABEL_PORTFORWARD]: "web", [LABEL_POD]: "web-0" });
    const slice = object("web-0-abc", { [LABEL_PORTFORWARD]: "web", [LABEL_POD]: "web-0" });
    assert.equal(index.has("ns/web"), false);
    services.change(undefined, service);
    endpointSlices.change(undefined, slice);
    assert.equal(index.has("ns/web"), true);
    services.change(service, undefined);
    assert.equal(index.has("ns/web"), true, "the EndpointSlice is still there");
    endpointSlices.change(slice, undefined);
    assert.equal(index.has("ns/web"), false);
  });

  it("ignores the PortForward's own Service and follows a relabelled object", () => {
    const services = kind();
    const index = new PodObjectIndex({ services, endpointSlices: kind() });
    services.change(undefined, object("web", { [LABEL_PORTFORWARD]: "web" }));
    assert.equal(index.has("ns/web"), false, "no tunnelkeeper.io/pod label: the PortForward's Service");
    const perPod = object("web-0", { [LABEL_PORTFORWARD]: "web", [LABEL_POD]: "web-0" });
    services.change(undefined, perPod);
    const moved = object("web-0", { [LABEL_PORTFORWARD]: "api", [LABEL_POD]: "web-0" });
    services.change(perPod, moved);
    assert.equal(index.has("ns/web"), false);
    assert.equal(index.has("ns/api"), true);
  });
});
