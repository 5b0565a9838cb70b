import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { describeAccess, forbiddenProblem, requestProblem, requiredAccess } from "../../../src/remote/remote-health.ts";
import { kindsFor } from "../../../src/remote/target-sources.ts";

const WHERE = { server: "https://b.example:6443", namespace: "far" };

function networkError(code: string): Error {
  return new TypeError("fetch failed", { cause: Object.assign(new Error(code), { code }) });
}

describe("requiredAccess", () => {
  it("asks list and watch of each kind, and get + create of pods/portforward", () => {
    assert.deepEqual(requiredAccess(["pods", "services"]).map(describeAccess), [
      "list pods",
      "watch pods",
      "list services",
      "watch services",
      "create pods/portforward",
      "get pods/portforward",
    ]);
    assert.ok(requiredAccess(["pods", "deployments"]).map(describeAccess).includes("list deployments.apps"));
  });
});

describe("kindsFor", () => {
  it("watches only what each target kind resolves through", () => {
    assert.deepEqual(kindsFor({ pod: "db-0" }), ["pods"]);
    assert.deepEqual(kindsFor({ selector: { matchLabels: { app: "db" } } }), ["pods"]);
    assert.deepEqual(kindsFor({ service: "db" }), ["pods", "services", "endpointslices"]);
    assert.deepEqual(kindsFor({ workload: { kind: "StatefulSet", name: "db" } }), ["pods", "statefulsets"]);
  });
});

describe("requestProblem", () => {
  it("tells 401, 403, TLS failures and unreachable servers apart, each saying what to do", () => {
    const unauthorized = requestProblem(new ApiException(401, "Unauthorized", {}, {}), WHERE);
    assert.equal(unauthorized.reason, "RemoteUnauthorized");
    assert.match(unauthorized.message, /put valid credentials in the Secret/);
    assert.equal(requestProblem(new ApiException(403, "Forbidden", {}, {}), WHERE).reason, "RemoteForbidden");
    const tls = requestProblem(networkError("DEPTH_ZERO_SELF_SIGNED_CERT"), WHERE);
    assert.equal(tls.reason, "RemoteTLSFailed");
    assert.match(tls.message, /certificate-authority-data/);
    const refused = requestProblem(networkError("ECONNREFUSED"), WHERE);
    assert.equal(refused.reason, "RemoteUnreachable");
    assert.match(refused.message, /ECONNREFUSED/);
  });

  it("names every missing verb and the namespace", () => {
    const problem = forbiddenProblem(requiredAccess(["pods"]).slice(2), WHERE);
    assert.equal(problem.reason, "RemoteForbidden");
    assert.match(problem.message, /may not create pods\/portforward, get pods\/portforward in namespace "far" of https:\/\/b.example:6443/);
  });
});
