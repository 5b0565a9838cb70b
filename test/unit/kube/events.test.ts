import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type EventBody, EventRecorder, formatMicroTime } from "../../../src/kube/events.ts";
import { FakeClock } from "../../support/fake-clock.ts";

const subject = { apiVersion: "tunnelkeeper.io/v1alpha1", kind: "PortForward", name: "pf", namespace: "demo", uid: "u1" };

function recorder(clock: FakeClock, fail = false) {
  const sent: EventBody[] = [];
  const events = new EventRecorder({
    reportingController: "tunnelkeeper.io/controller",
    reportingInstance: "controller-0",
    clock,
    dedupWindowMs: 60_000,
    createEvent: async (_namespace, body) => {
      if (fail) throw new Error("forbidden");
      sent.push(body);
    },
  });
  return { events, sent };
}

describe("EventRecorder", () => {
  it("creates an events.k8s.io/v1 Event with a MicroTime eventTime", async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const { events, sent } = recorder(clock);
    assert.equal(
      await events.record(subject, { type: "Warning", reason: "NoReadyPods", action: "Reconcile", note: "No ready pod." }),
      true,
    );
    assert.deepEqual(sent[0], {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { generateName: "pf-", namespace: "demo" },
      eventTime: "2026-01-01T00:00:00.000000Z",
      reportingController: "tunnelkeeper.io/controller",
      reportingInstance: "controller-0",
      action: "Reconcile",
      reason: "NoReadyPods",
      note: "No ready pod.",
      type: "Warning",
      regarding: subject,
    });
  });

  it("drops a repeat of the same object and reason within the window, and sends it again after", async () => {
    const clock = new FakeClock();
    const { events, sent } = recorder(clock);
    const input = { type: "Normal" as const, reason: "Connected", action: "Connect", note: "Tunnel up." };
    assert.equal(await events.record(subject, input), true);
    await clock.advance(30_000);
    assert.equal(await events.record(subject, { ...input, note: "Different note." }), false);
    assert.equal(await events.record(subject, { ...input, reason: "PodFailover" }), true, "another reason is sent");
    assert.equal(await events.record({ ...subject, uid: "u2" }, input), true, "another object is sent");
    await clock.advance(30_000);
    assert.equal(await events.record(subject, input), true, "window passed");
    assert.equal(sent.length, 4);
  });

  it("does not count a failed create for dedup", async () => {
    const clock = new FakeClock();
    const failing = recorder(clock, true);
    const input = { type: "Normal" as const, reason: "Connected", action: "Connect", note: "x" };
    await assert.rejects(failing.events.record(subject, input), /forbidden/);
    await assert.rejects(failing.events.record(subject, input), /forbidden/, "retried, not deduplicated");
  });

  it("truncates notes to 1024 bytes", async () => {
    const { events, sent } = recorder(new FakeClock());
    await events.record(subject, { type: "Normal", reason: "R", action: "A", note: "é".repeat(2000) });
    assert.ok(Buffer.byteLength(sent[0]?.note ?? "") <= 1024);
    assert.ok(sent[0]?.note.endsWith("..."));
  });

  it("formats MicroTime with six fractional digits", () => {
    assert.equal(formatMicroTime(Date.UTC(2026, 4, 6, 7, 8, 9, 123)), "2026-05-06T07:08:09.123000Z");
  });
});
