// Events (src/kube/events.ts) really created on the API server as events.k8s.io/v1, for a real
// PortForward, deduplicated within the window.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { API_VERSION, KIND, PLURAL, REPORTING_CONTROLLER } from "../../src/api/identity.ts";
import { applyObject } from "../../src/kube/apply.ts";
import { EventRecorder, type EventSubject, kubeCreateEvent } from "../../src/kube/events.ts";
import { kubeRequest, resourcePath } from "../../src/kube/request.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd, kubectl } from "./crd-install.ts";

interface StoredEvent {
  metadata: { name: string };
  reason: string;
  note: string;
  type: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  eventTime: string;
  regarding: { apiVersion: string; kind: string; name: string; namespace: string; uid: string };
}

async function eventsIn(namespace: string): Promise<StoredEvent[]> {
  const { admin } = testCluster();
  const list = (await kubeRequest(admin, {
    method: "GET",
    path: resourcePath({ apiVersion: "events.k8s.io/v1", plural: "events", namespace }),
  })) as {
    items: StoredEvent[];
  };
  return list.items;
}

async function aPortForwardSubject(namespace: string): Promise<EventSubject> {
  const { admin } = testCluster();
  const pf = await applyObject<{ metadata: { uid: string; resourceVersion: string } }>(
    admin,
    {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: "web", namespace },
      spec: { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
    { plural: PLURAL, fieldManager: "tunnelkeeper-tests" },
  );
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: "web",
    namespace,
    uid: pf.metadata.uid,
    resourceVersion: pf.metadata.resourceVersion,
  };
}

describe("EventRecorder against the API server", () => {
  before(installCrd);

  it("creates an events.k8s.io/v1 Event about the PortForward, and not a duplicate within the window", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "events");
    const subject = await aPortForwardSubject(namespace);
    const recorder = new EventRecorder({
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: "controller-0",
      createEvent: kubeCreateEvent(admin),
    });

    const sent = await recorder.record(subject, {
      type: "Warning",
      reason: "PodFailover",
      action: "Reconnect",
      note: "Pod web-0 went away; using web-1.",
    });
    assert.equal(sent, true);
    const [event, ...more] = await eventsIn(namespace);
    assert.equal(more.length, 0);
    assert.ok(event);
    assert.equal(event.reason, "PodFailover");
    assert.equal(event.note, "Pod web-0 went away; using web-1.");
    assert.equal(event.type, "Warning");
    assert.equal(event.action, "Reconnect");
    assert.equal(event.reportingController, REPORTING_CONTROLLER);
    assert.equal(event.reportingInstance, "controller-0");
    assert.match(event.metadata.name, /^web-[a-z0-9]{5}$/);
    assert.deepEqual(
      {
        apiVersion: event.regarding.apiVersion,
        kind: event.regarding.kind,
        name: event.regarding.name,
        namespace: event.regarding.namespace,
        uid: event.regarding.uid,
      },
      { apiVersion: API_VERSION, kind: KIND, name: "web", namespace, uid: subject.uid },
    );
    assert.ok(Math.abs(Date.parse(event.eventTime) - Date.now()) < 60_000, `eventTime ${event.eventTime} is now`);

    // Same object and reason within the window, even with another note: not sent.
    assert.equal(
      await recorder.record(subject, { type: "Warning", reason: "PodFailover", action: "Reconnect", note: "Pod web-1 went away." }),
      false,
    );
    // Another reason is another event.
    assert.equal(
      await recorder.record(subject, { type: "Normal", reason: "Connected", action: "Connect", note: "Tunnel to web-1 is up." }),
      true,
    );
    const events = await eventsIn(namespace);
    assert.deepEqual(events.map((e) => e.reason).sort(), ["Connected", "PodFailover"]);

    // Users see them where they look: kubectl describe / kubectl events for the PortForward.
    const described = await kubectl("events", "-n", namespace, "--for", "portforward.tunnelkeeper.io/web");
    assert.match(described, /PodFailover/);
    assert.match(described, /Pod web-0 went away; using web-1\./);
  });

  it("truncates a note the API server would reject as too long", async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "events");
    const subject = await aPortForwardSubject(namespace);
    const recorder = new EventRecorder({
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: "controller-0",
      createEvent: kubeCreateEvent(admin),
    });
    const note = "Verbindung zurückgesetzt — ".repeat(100);
    assert.equal(await recorder.record(subject, { type: "Warning", reason: "Stalled", action: "Reconcile", note }), true);
    const [event] = await eventsIn(namespace);
    assert.ok(event);
    assert.ok(Buffer.byteLength(event.note) <= 1024);
    assert.ok(event.note.endsWith("..."));
    assert.ok(note.startsWith(event.note.slice(0, -3)));
  });

  it("a failed create does not count for deduplication", async (t) => {
    const { admin, unprivileged } = testCluster();
    const namespace = await testNamespace(t, "events");
    const subject = await aPortForwardSubject(namespace);
    let createEvent = kubeCreateEvent(unprivileged);
    const recorder = new EventRecorder({
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: "controller-0",
      createEvent: (ns, body) => createEvent(ns, body),
    });
    const input = { type: "Normal", reason: "Connected", action: "Connect", note: "Tunnel is up." } as const;
    await assert.rejects(recorder.record(subject, input), (error: unknown) => (error as { code?: number }).code === 403);
    createEvent = kubeCreateEvent(admin);
    assert.equal(await recorder.record(subject, input), true);
    assert.equal((await eventsIn(namespace)).length, 1);
  });
});
