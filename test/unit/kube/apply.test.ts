import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { APPLY_PATCH_CONTENT_TYPE, applyBody, applyObject, applyStatus, applyStatusBody } from "../../../src/kube/apply.ts";
import { isConflict } from "../../../src/kube/errors.ts";
import { resourcePath } from "../../../src/kube/request.ts";

const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: "web",
    namespace: "demo",
    labels: { app: "web" },
    resourceVersion: "42",
    uid: "u1",
    managedFields: [{ manager: "x" }],
    creationTimestamp: "2026-01-01T00:00:00Z",
  },
  spec: { ports: [{ port: 80 }] },
  status: { loadBalancer: {} },
};

describe("resourcePath", () => {
  it("builds core, group, namespaced, cluster-scoped and subresource paths", () => {
    assert.equal(resourcePath({ apiVersion: "v1", plural: "services", namespace: "demo", name: "web" }), "/api/v1/namespaces/demo/services/web");
    assert.equal(
      resourcePath({ apiVersion: "tunnelkeeper.io/v1alpha1", plural: "portforwards", namespace: "demo", name: "pf", subresource: "status" }),
      "/apis/tunnelkeeper.io/v1alpha1/namespaces/demo/portforwards/pf/status",
    );
    assert.equal(resourcePath({ apiVersion: "tunnelkeeper.io/v1alpha1", plural: "portforwards" }), "/apis/tunnelkeeper.io/v1alpha1/portforwards");
  });
});

describe("apply bodies", () => {
  it("drops status and server-owned metadata from an object apply", () => {
    assert.deepEqual(applyBody(service), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "demo", labels: { app: "web" } },
      spec: { ports: [{ port: 80 }] },
    });
  });

  it("sends only identity and status in a status apply", () => {
    assert.deepEqual(applyStatusBody({ ...service, status: { ready: true } }), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "demo" },
      status: { ready: true },
    });
  });
});

/**
 * Checks the request on the wire (method, path, content type, query, body) through client-node's
 * real transport and auth, against a local HTTP endpoint that records what it received. This is
 * not a stand-in for the API server's behaviour: SSA semantics are covered by the integration suite.
 */
describe("applyObject / applyStatus on the wire", () => {
  const received: Array<{ method: string; url: string; contentType: string; authorization: string; body: unknown }> = [];
  let status = 200;
  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (chunk: Buffer) => {
      data += chunk.toString();
    });
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        authorization: req.headers.authorization ?? "",
        body: JSON.parse(data),
      });
      const body =
        status === 200
          ? JSON.stringify({ kind: "Service", metadata: { name: "web", resourceVersion: "43" } })
          : JSON.stringify({ kind: "Status", code: 409, reason: "Conflict", message: "conflict" });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    });
  });
  const kubeConfig = new KubeConfig();

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    kubeConfig.loadFromOptions({
      clusters: [{ name: "local", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "t0ken" }],
      contexts: [{ name: "c", cluster: "local", user: "u" }],
      currentContext: "c",
    });
  });
  after(() => {
    server.close();
  });

  it("PATCHes with apply-patch+yaml, fieldManager and force", async () => {
    const stored = await applyObject<{ metadata: { resourceVersion: string } }>(kubeConfig, service, {
      plural: "services",
      fieldManager: "tunnelkeeper",
    });
    assert.equal(stored.metadata.resourceVersion, "43");
    const request = received.at(-1);
    assert.equal(request?.method, "PATCH");
    assert.equal(request?.url, "/api/v1/namespaces/demo/services/web?fieldManager=tunnelkeeper&force=true");
    assert.equal(request?.contentType, APPLY_PATCH_CONTENT_TYPE);
    assert.equal(request?.authorization, "Bearer t0ken");
    assert.deepEqual(request?.body, applyBody(service));
  });

  it("applies status to the /status subresource", async () => {
    const pf = { apiVersion: "tunnelkeeper.io/v1alpha1", kind: "PortForward", metadata: { name: "pf", namespace: "demo" }, status: { observedGeneration: 1 } };
    await applyStatus(kubeConfig, pf, { plural: "portforwards", fieldManager: "tunnelkeeper", force: false });
    const request = received.at(-1);
    assert.equal(request?.url, "/apis/tunnelkeeper.io/v1alpha1/namespaces/demo/portforwards/pf/status?fieldManager=tunnelkeeper&force=false");
    assert.deepEqual(request?.body, pf);
  });

  it("throws an ApiException that kube/errors classifies", async () => {
    status = 409;
    await assert.rejects(applyObject(kubeConfig, service, { plural: "services", fieldManager: "tunnelkeeper" }), (err: unknown) => isConflict(err));
    status = 200;
  });
});
