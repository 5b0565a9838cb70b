// Server-side apply (src/kube/apply.ts) against the real API server: a Service's full intent, and
// a PortForward's /status shared by the controller and one field manager per gateway replica.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { API_VERSION, CONTROLLER_FIELD_MANAGER, gatewayFieldManager, KIND, PLURAL } from "../../src/api/identity.ts";
import { applyObject, applyStatus } from "../../src/kube/apply.ts";
import { isConflict, reasonOf, statusCodeOf } from "../../src/kube/errors.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd } from "./crd-install.ts";

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

interface Stored {
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    labels?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

function aService(namespace: string, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace, labels },
    spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
  };
}

function entriesOf(object: Stored, manager: string): ManagedFieldsEntry[] {
  return (object.metadata.managedFields ?? []).filter((e) => e.manager === manager);
}

describe("applyObject on a Service", () => {
  it("creates, is a no-op when re-applied unchanged, and removes a label the manager stops stating", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "ssa");
    const options = { plural: "services", fieldManager: CONTROLLER_FIELD_MANAGER };

    const created = await applyObject<Stored>(admin, aService(namespace, { app: "web", tier: "front" }), options);
    assert.deepEqual(created.metadata.labels, { app: "web", tier: "front" });
    const [entry, ...others] = entriesOf(created, CONTROLLER_FIELD_MANAGER);
    assert.equal(others.length, 0);
    assert.equal(entry?.operation, "Apply", "the request must be an apply patch, not an update");
    const ownedLabels = Object.keys(((entry?.fieldsV1?.["f:metadata"] as Record<string, unknown>)?.["f:labels"] ?? {}) as object);
    assert.deepEqual(ownedLabels.sort(), ["f:app", "f:tier"]);

    const again = await applyObject<Stored>(admin, aService(namespace, { app: "web", tier: "front" }), options);
    assert.equal(again.metadata.resourceVersion, created.metadata.resourceVersion, "an unchanged apply must not write");

    // Server-owned metadata in the input (as when re-applying an object read back) is not sent.
    const readBack = { ...aService(namespace, { app: "web" }), metadata: { ...created.metadata, labels: { app: "web" } } };
    const dropped = await applyObject<Stored>(admin, readBack, options);
    assert.deepEqual(dropped.metadata.labels, { app: "web" });
    assert.notEqual(dropped.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.equal(dropped.metadata.uid, created.metadata.uid);
  });

  it("with force false, reports another manager's field as a Conflict; with force (default) takes it over", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "ssa");
    await applyObject(admin, aService(namespace, { app: "web", owner: "someone" }), { plural: "services", fieldManager: "someone-else" });

    const mine = aService(namespace, { app: "web", owner: "tunnelkeeper" });
    await assert.rejects(
      applyObject(admin, mine, { plural: "services", fieldManager: CONTROLLER_FIELD_MANAGER, force: false }),
      (error: unknown) => {
        assert.equal(statusCodeOf(error), 409);
        assert.equal(reasonOf(error), "Conflict");
        assert.ok(isConflict(error));
        return true;
      },
    );

    const dryRun = await applyObject<Stored>(admin, mine, { plural: "services", fieldManager: CONTROLLER_FIELD_MANAGER, dryRun: true });
    assert.equal(dryRun.metadata.labels?.owner, "tunnelkeeper");
    const unchanged = await kubeRequest(admin, {
      method: "GET",
      path: resourcePath({ apiVersion: "v1", plural: "services", namespace, name: "web" }),
    });
    assert.equal((unchanged as Stored).metadata.labels?.owner, "someone", "a dry run must not persist");

    const taken = await applyObject<Stored>(admin, mine, { plural: "services", fieldManager: CONTROLLER_FIELD_MANAGER });
    assert.equal(taken.metadata.labels?.owner, "tunnelkeeper");
  });
});

describe("applyStatus on a PortForward", () => {
  before(installCrd);

  const gatewayA = gatewayFieldManager("gateway-a");
  const gatewayB = gatewayFieldManager("gateway-b");

  function aPortForward(namespace: string) {
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: "web", namespace },
      spec: { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] },
    };
  }

  function withStatus(namespace: string, status: Record<string, unknown>) {
    return { ...aPortForward(namespace), status };
  }

  function gateways(object: Stored): Array<Record<string, unknown>> {
    return (object.status?.gateways ?? []) as Array<Record<string, unknown>>;
  }

  it("keeps each gateway's status.gateways entry owned by that gateway, untouched by others and by the controller", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "ssa-status");
    const created = await applyObject<Stored>(admin, aPortForward(namespace), { plural: PLURAL, fieldManager: CONTROLLER_FIELD_MANAGER });
    assert.equal(created.metadata.generation, 1);

    const since = "2026-01-01T00:00:00Z";
    await applyStatus(
      admin,
      withStatus(namespace, { gateways: [{ pod: "gateway-a", connected: true, protocol: "Tunnel", connectedTargets: ["web-0"], since }] }),
      {
        plural: PLURAL,
        fieldManager: gatewayA,
      },
    );
    let stored = await applyStatus<Stored>(
      admin,
      withStatus(namespace, {
        gateways: [{ pod: "gateway-b", connected: false, reason: "Reconnecting", lastError: "connection reset", since }],
      }),
      { plural: PLURAL, fieldManager: gatewayB },
    );
    assert.deepEqual(
      gateways(stored).map((g) => g.pod),
      ["gateway-a", "gateway-b"],
    );
    // Server-side defaults of the status schema apply to each entry.
    assert.equal(gateways(stored).find((g) => g.pod === "gateway-b")?.activeConnections, 0);

    // Gateway A rewrites its entry: B's entry is not touched.
    stored = await applyStatus<Stored>(
      admin,
      withStatus(namespace, {
        gateways: [{ pod: "gateway-a", connected: true, protocol: "Tunnel", connectedTargets: ["web-0"], activeConnections: 3, since }],
      }),
      { plural: PLURAL, fieldManager: gatewayA },
    );
    assert.equal(gateways(stored).find((g) => g.pod === "gateway-a")?.activeConnections, 3);
    assert.deepEqual(
      gateways(stored).find((g) => g.pod === "gateway-b"),
      {
        pod: "gateway-b",
        connected: false,
        reason: "Reconnecting",
        lastError: "connection reset",
        since,
        activeConnections: 0,
        reconnects: 0,
      },
    );

    // The controller applies the status it owns (everything but gateways): both entries stay, and
    // the controller does not become an owner of either.
    const controllerStatus = {
      observedGeneration: 1,
      target: "pod/web-0",
      serviceName: "web",
      pods: "1/1",
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Connected",
          message: "1 of 2 gateways hold a live tunnel.",
          lastTransitionTime: since,
          observedGeneration: 1,
        },
      ],
    };
    stored = await applyStatus<Stored>(admin, withStatus(namespace, controllerStatus), {
      plural: PLURAL,
      fieldManager: CONTROLLER_FIELD_MANAGER,
    });
    assert.deepEqual(
      gateways(stored).map((g) => g.pod),
      ["gateway-a", "gateway-b"],
    );
    const controllerStatusEntry = entriesOf(stored, CONTROLLER_FIELD_MANAGER).find((e) => e.subresource === "status");
    assert.ok(controllerStatusEntry, "the controller has a managedFields entry for the status subresource");
    const ownedStatus = (controllerStatusEntry.fieldsV1?.["f:status"] ?? {}) as Record<string, unknown>;
    assert.equal(ownedStatus["f:gateways"], undefined, "the controller must not own any gateways entry");
    assert.deepEqual(
      entriesOf(stored, gatewayA).map((e) => e.subresource),
      ["status"],
    );
    assert.deepEqual(
      entriesOf(stored, gatewayB).map((e) => e.subresource),
      ["status"],
    );

    // A status apply never changes spec or generation.
    assert.deepEqual(stored.spec, created.spec);
    assert.equal(stored.metadata.generation, 1);

    // A gateway that stops stating its entry (e.g. it no longer serves this PortForward) removes
    // only its own entry; the controller's fields stay.
    stored = await applyStatus<Stored>(admin, withStatus(namespace, {}), { plural: PLURAL, fieldManager: gatewayA });
    assert.deepEqual(
      gateways(stored).map((g) => g.pod),
      ["gateway-b"],
    );
    assert.equal(stored.status?.serviceName, "web");
    assert.equal((stored.status?.conditions as unknown[] | undefined)?.length, 1);

    // And the controller re-applying its status (with fewer fields) still leaves gateway B alone.
    stored = await applyStatus<Stored>(admin, withStatus(namespace, { observedGeneration: 1 }), {
      plural: PLURAL,
      fieldManager: CONTROLLER_FIELD_MANAGER,
    });
    assert.deepEqual(
      gateways(stored).map((g) => g.pod),
      ["gateway-b"],
    );
    assert.equal(stored.status?.serviceName, undefined, "fields the controller stopped stating are removed");
  });

  it("a spec apply never touches status", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "ssa-status");
    await applyObject(admin, aPortForward(namespace), { plural: PLURAL, fieldManager: CONTROLLER_FIELD_MANAGER });
    await applyStatus(admin, withStatus(namespace, { gateways: [{ pod: "gateway-a", connected: true }] }), {
      plural: PLURAL,
      fieldManager: gatewayA,
    });
    // The object applied again with a status in it (as read back): applyObject drops it.
    const stored = await applyObject<Stored>(admin, withStatus(namespace, { gateways: [] }), {
      plural: PLURAL,
      fieldManager: CONTROLLER_FIELD_MANAGER,
    });
    assert.deepEqual(
      gateways(stored).map((g) => g.pod),
      ["gateway-a"],
    );
  });
});
