import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { heartbeatLease } from "../../../src/gateway/heartbeat.ts";

describe("heartbeatLease", () => {
  it("is owned by the gateway's pod when its UID is known, so it goes with the pod", () => {
    const lease = heartbeatLease({ pod: "gw-1", namespace: "tk", podIP: "10.0.0.5", podUid: "uid-1" }, 0);
    assert.deepEqual(lease.metadata.ownerReferences, [{ apiVersion: "v1", kind: "Pod", name: "gw-1", uid: "uid-1" }]);
    assert.equal(lease.metadata.annotations["tunnelkeeper.io/pod-ip"] ?? Object.values(lease.metadata.annotations)[0], "10.0.0.5");
    assert.equal(lease.spec.holderIdentity, "gw-1");
  });

  it("has no owner outside a pod", () => {
    const lease = heartbeatLease({ pod: "gw-local", namespace: "tk", podIP: "", podUid: "" }, 0);
    assert.equal("ownerReferences" in lease.metadata, false);
  });
});
