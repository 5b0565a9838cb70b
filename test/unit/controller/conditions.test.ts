import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Condition } from "../../../src/api/status.ts";
import { formatTime, removeCondition, setAbnormalCondition, setCondition } from "../../../src/controller/conditions.ts";

const T0 = new Date("2026-03-01T10:00:00.123Z");
const T1 = new Date("2026-03-01T10:05:00Z");

const ready = (status: "True" | "False" | "Unknown", reason = "R", lastTransitionTime = formatTime(T0)): Condition => ({
  type: "Ready",
  status,
  observedGeneration: 1,
  lastTransitionTime,
  reason,
  message: "m",
});

describe("setCondition", () => {
  const cases: {
    name: string;
    before: Condition[];
    next: { status: "True" | "False" | "Unknown"; reason: string };
    expectedTime: string;
  }[] = [
    {
      name: "a new condition gets the current time",
      before: [],
      next: { status: "False", reason: "R" },
      expectedTime: "2026-03-01T10:05:00Z",
    },
    {
      name: "same status keeps lastTransitionTime even if reason changes",
      before: [ready("False")],
      next: { status: "False", reason: "Other" },
      expectedTime: "2026-03-01T10:00:00Z",
    },
    {
      name: "a status flip moves lastTransitionTime",
      before: [ready("False")],
      next: { status: "True", reason: "R" },
      expectedTime: "2026-03-01T10:05:00Z",
    },
    {
      name: "Unknown to False is a flip",
      before: [ready("Unknown")],
      next: { status: "False", reason: "R" },
      expectedTime: "2026-03-01T10:05:00Z",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const after = setCondition(c.before, { type: "Ready", ...c.next, message: "x" }, T1, 2);
      assert.equal(after.length, 1);
      assert.equal(after[0]!.lastTransitionTime, c.expectedTime);
      assert.equal(after[0]!.observedGeneration, 2);
      assert.equal(after[0]!.reason, c.next.reason);
    });
  }

  it("does not mutate its input and keeps other conditions in place", () => {
    const other: Condition = { ...ready("True"), type: "ServiceReady" };
    const before = [other, ready("False")];
    const snapshot = structuredClone(before);
    const after = setCondition(before, { type: "Ready", status: "True", reason: "Forwarding", message: "ok" }, T1, 3);
    assert.deepEqual(before, snapshot);
    assert.deepEqual(
      after.map((c) => c.type),
      ["ServiceReady", "Ready"],
    );
    assert.equal(after[0], other);
  });

  it("formats times as metav1.Time does (whole seconds, UTC)", () => {
    assert.equal(formatTime(T0), "2026-03-01T10:00:00Z");
  });

  it("truncates messages to the 32768 characters the schema allows", () => {
    const after = setCondition([], { type: "Ready", status: "False", reason: "R", message: "x".repeat(40000) }, T1, 1);
    assert.equal(after[0]!.message.length, 32768);
  });
});

describe("setAbnormalCondition (kstatus Reconciling/Stalled)", () => {
  it("sets the condition True while there is a cause", () => {
    const after = setAbnormalCondition([], "Stalled", { reason: "Forbidden", message: "grant it" }, T1, 1);
    assert.deepEqual(after, [
      {
        type: "Stalled",
        status: "True",
        observedGeneration: 1,
        lastTransitionTime: "2026-03-01T10:05:00Z",
        reason: "Forbidden",
        message: "grant it",
      },
    ]);
  });

  it("removes the condition instead of setting it False", () => {
    const before = setAbnormalCondition([ready("False")], "Stalled", { reason: "Forbidden", message: "m" }, T0, 1);
    const after = setAbnormalCondition(before, "Stalled", undefined, T1, 2);
    assert.deepEqual(
      after.map((c) => c.type),
      ["Ready"],
    );
  });

  it("removeCondition leaves an absent type alone", () => {
    const before = [ready("True")];
    assert.deepEqual(removeCondition(before, "Stalled"), before);
  });
});
