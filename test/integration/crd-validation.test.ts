// Admission of PortForwards by the real API server with the generated CRD installed: the shared
// samples (test/unit/api/samples.ts, also checked against the zod schema) get the same verdict and
// message from the server, defaults are filled in by the server, and kubectl explain / get work.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { UNOBSERVED_STATUS } from "../../src/api/crd.ts";
import { API_VERSION, CONTROLLER_FIELD_MANAGER, gatewayFieldManager, KIND, PLURAL } from "../../src/api/identity.ts";
import { applyStatus } from "../../src/kube/apply.ts";
import { isInvalid, statusCodeOf, statusOf } from "../../src/kube/errors.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { aPortForward } from "../support/builders.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { SAMPLES, type Sample } from "../unit/api/samples.ts";
import { installCrd, kubectl } from "./crd-install.ts";

/**
 * The server's message for samples whose shared `message` is absent or empty (the zod and CEL
 * texts differ there: these are OpenAPI-schema errors, not CEL rules).
 */
const SERVER_MESSAGES: Readonly<Record<string, string>> = {
  "no ports": "spec.ports must list at least one port",
  "port 0": "spec.ports[0].port: Invalid value: 0: spec.ports[0].port in body should be greater than or equal to 1",
  "port 65536": "spec.ports[0].port: Invalid value: 65536: spec.ports[0].port in body should be less than or equal to 65535",
  "duplicate port numbers": "spec.ports[].port must be unique",
  "ExternalName service type":
    'spec.service.type: Unsupported value: "ExternalName": supported values: "ClusterIP", "NodePort", "LoadBalancer"',
  "unknown workload kind": 'spec.target.workload.kind: Unsupported value: "Job"',
  "unknown protocol": 'spec.protocol: Unsupported value: "SPDY": supported values: "Auto", "Tunnel", "Legacy"',
  "unknown load balancing": 'spec.loadBalancing: Unsupported value: "Random": supported values: "RoundRobin", "LeastConnections", "First"',
};

interface StoredPortForward {
  metadata: { name: string; uid: string; generation: number };
  spec: Record<string, unknown> & {
    service?: { type?: string; name?: string };
    keepalive?: { interval?: string };
    loadBalancing?: string;
    protocol?: string;
    ports: Array<{ port: number; protocol?: string }>;
    cluster?: { kubeconfigSecretRef?: { name: string; key?: string } };
  };
}

/** The sample as a user would submit it in `namespace`: no uid or generation (server-owned). */
function submittable(sample: Sample, namespace: string): Record<string, unknown> {
  const object = structuredClone(sample.object) as { metadata: Record<string, unknown> };
  const { uid: _uid, generation: _generation, ...metadata } = object.metadata;
  return { ...object, metadata: { ...metadata, namespace } };
}

function create(namespace: string, object: Record<string, unknown>): Promise<StoredPortForward> {
  const { admin } = testCluster();
  return kubeRequest(admin, {
    method: "POST",
    path: resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace }),
    body: object,
  }) as Promise<StoredPortForward>;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the API server accepted it");
}

describe("PortForward admission by the API server", () => {
  before(installCrd);

  const invalid = SAMPLES.filter((s) => !s.valid);
  const valid = SAMPLES.filter((s) => s.valid);

  it("covers enough samples", () => {
    assert.ok(invalid.length >= 15, `only ${invalid.length} invalid samples`);
    for (const sample of invalid) {
      assert.ok(sample.message || SERVER_MESSAGES[sample.name], `no expected server message for "${sample.name}"`);
    }
  });

  describe("rejects invalid PortForwards with 422 and the expected message", () => {
    // One namespace for every rejection: nothing is ever created in it.
    const namespace = `crd-invalid-${randomBytes(4).toString("hex")}`;
    const core = () => testCluster().admin.makeApiClient(CoreV1Api);
    before(async () => {
      await core().createNamespace({ body: { metadata: { name: namespace, labels: { "tunnelkeeper.io/test": "true" } } } });
    });
    after(async () => {
      await core().deleteNamespace({ name: namespace });
    });
    for (const sample of invalid) {
      it(sample.name, async () => {
        const error = await rejection(create(namespace, submittable(sample, namespace)));
        assert.equal(statusCodeOf(error), 422, `expected 422, got ${statusCodeOf(error)}: ${statusOf(error)?.message}`);
        assert.ok(isInvalid(error));
        const expected = sample.message || SERVER_MESSAGES[sample.name] || "";
        const message = statusOf(error)?.message ?? "";
        assert.ok(message.includes(expected), `message ${JSON.stringify(message)} lacks ${JSON.stringify(expected)}`);
      });
    }
  });

  describe("accepts valid PortForwards", () => {
    for (const sample of valid) {
      it(sample.name, async (t) => {
        const namespace = await testNamespace(t, "crd-valid");
        const stored = await create(namespace, submittable(sample, namespace));
        assert.equal(stored.metadata.generation, 1);
        assert.ok(stored.metadata.uid);
      });
    }
  });

  it("fills in the spec defaults on the server", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "crd-defaults");
    const minimal = aPortForward("web", namespace).raw();
    await create(namespace, submittable({ name: "minimal", object: minimal, valid: true }, namespace));
    const read = (await kubeRequest(admin, {
      method: "GET",
      path: resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace, name: "web" }),
    })) as StoredPortForward;
    assert.deepEqual(read.spec.service, { type: "ClusterIP", perPod: false });
    assert.equal(read.spec.loadBalancing, "RoundRobin");
    assert.deepEqual(read.spec.keepalive, { interval: "10s" });
    assert.equal(read.spec.protocol, "Auto");
    assert.equal(read.spec.ports[0]?.protocol, "TCP");

    // The Secret key defaults too, and what the user set is kept.
    const withCluster = aPortForward("remote", namespace)
      .withSpecField("cluster", { kubeconfigSecretRef: { name: "remote" } })
      .withService({ name: "remote-fwd" })
      .withSpecField("keepalive", { interval: "30s" })
      .raw();
    const stored = await create(namespace, submittable({ name: "cluster", object: withCluster, valid: true }, namespace));
    assert.deepEqual(stored.spec.cluster, { kubeconfigSecretRef: { name: "remote", key: "kubeconfig" } });
    assert.deepEqual(stored.spec.service, { name: "remote-fwd", type: "ClusterIP", perPod: false });
    assert.deepEqual(stored.spec.keepalive, { interval: "30s" });
  });

  it("serves a PortForward no controller has written status for as unobserved (kstatus InProgress)", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "crd-unobserved");
    const path = resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace, name: "web" });
    type WithStatus = StoredPortForward & { status?: { observedGeneration?: number; gateways?: unknown[] } };
    const created = (await create(
      namespace,
      submittable({ name: "unobserved", object: aPortForward("web", namespace).raw(), valid: true }, namespace),
    )) as WithStatus;
    const read = (await kubeRequest(admin, { method: "GET", path })) as WithStatus;
    const listed = (await kubeRequest(admin, {
      method: "GET",
      path: resourcePath({ apiVersion: API_VERSION, plural: PLURAL, namespace }),
    })) as { items: WithStatus[] };
    // kstatus reads a status.observedGeneration behind metadata.generation as InProgress; with no
    // status at all (and no conditions) it would read Current.
    for (const object of [created, read, listed.items[0]]) {
      assert.deepEqual(object?.status, UNOBSERVED_STATUS);
      assert.ok((object?.status?.observedGeneration ?? 0) < (object?.metadata.generation ?? 0));
    }

    // A gateway's entry, written before the controller's first status, keeps it unobserved...
    await applyStatus(
      admin,
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: "web", namespace },
        status: { gateways: [{ pod: "gateway-0", connected: true }] },
      },
      { plural: PLURAL, fieldManager: gatewayFieldManager("gateway-0") },
    );
    const reported = (await kubeRequest(admin, { method: "GET", path })) as WithStatus;
    assert.equal(reported.status?.observedGeneration, 0);
    assert.equal(reported.status?.gateways?.length, 1);

    // ...and the controller's write replaces the default with the generation it observed.
    await applyStatus(
      admin,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: "web", namespace }, status: { observedGeneration: 1 } },
      { plural: PLURAL, fieldManager: CONTROLLER_FIELD_MANAGER },
    );
    const observed = (await kubeRequest(admin, { method: "GET", path })) as WithStatus;
    assert.equal(observed.status?.observedGeneration, 1);
    assert.equal(observed.status?.gateways?.length, 1);
  });

  it("prunes unknown fields (no namespace field in the target)", async (t) => {
    const namespace = await testNamespace(t, "crd-prune");
    const object = aPortForward("web", namespace).withTarget({ pod: "web-0", namespace: "other" }).raw();
    const stored = await create(namespace, submittable({ name: "prune", object, valid: true }, namespace));
    assert.deepEqual(stored.spec.target, { pod: "web-0" });
  });

  // KWOK (the test cluster's kubelet) also serves a kind PortForward (kwok.x-k8s.io), so the bare
  // kind name is ambiguous to kubectl explain; --api-version picks ours, as a user of a cluster
  // with KWOK installed would have to.
  it("kubectl explain portforward.spec.target prints the field descriptions", async () => {
    // The OpenAPI document for a new CRD is published shortly after it is Established.
    let output = "";
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        output = await kubectl("explain", "portforward.spec.target", "--api-version", API_VERSION);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    assert.match(output, /GROUP:\s+tunnelkeeper\.io\n/);
    assert.match(output, /KIND:\s+PortForward\n/);
    assert.match(output, /VERSION:\s+v1alpha1\n/);
    assert.match(output, /What to forward to: exactly one of pod, selector, service or workload/);
    for (const field of ["pod", "selector", "service", "workload"]) assert.match(output, new RegExp(`^\\s+${field}\\s+<`, "m"), field);
    assert.match(output, /Forward to this one pod, by name/);
  });

  it("kubectl get pf prints the printer columns", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "crd-get");
    await create(namespace, submittable({ name: "get", object: aPortForward("web", namespace).raw(), valid: true }, namespace));
    await applyStatus(
      admin,
      {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: "web", namespace },
        status: {
          target: "pod/web-0",
          serviceName: "web",
          pods: "1/1",
          totals: { pods: 1, readyPods: 1, connectedPods: 1, gateways: 1, connectedGateways: 1, activeConnections: 7, reconnects: 0 },
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Connected",
              message: "1 of 1 gateway holds a live tunnel.",
              lastTransitionTime: "2026-01-01T00:00:00Z",
            },
          ],
        },
      },
      { plural: PLURAL, fieldManager: CONTROLLER_FIELD_MANAGER },
    );

    const table = await kubectl("get", "pf", "-n", namespace);
    const [header, row, ...rest] = table.trimEnd().split("\n");
    assert.equal(rest.length, 0, table);
    assert.deepEqual(header?.split(/\s+/), ["NAME", "TARGET", "SERVICE", "READY", "SUSPENDED", "PODS", "CONNECTIONS", "AGE"]);
    assert.deepEqual(row?.split(/\s+/).slice(0, 6), ["web", "pod/web-0", "web", "True", "1/1", "7"]);

    const wide = await kubectl("get", "portforwards.tunnelkeeper.io", "-n", namespace, "-o", "wide");
    assert.match(wide.split("\n")[0] ?? "", /REASON\s+MESSAGE$/);
    assert.match(wide, /Connected\s+1 of 1 gateway holds a live tunnel\./);

    // The category lists it too.
    assert.equal(await kubectl("get", "tunnelkeeper", "-n", namespace, "-o", "name"), "portforward.tunnelkeeper.io/web\n");
  });
});
