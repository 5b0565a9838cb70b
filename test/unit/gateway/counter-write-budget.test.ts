import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CounterWriteBudget } from "../../../src/gateway/counter-write-budget.ts";

describe("CounterWriteBudget", () => {
  it("lets a burst through at once, then books one slot per interval, each to one caller in order", () => {
    const budget = new CounterWriteBudget(5, 3);
    const now = 10_000;
    assert.deepEqual(
      Array.from({ length: 6 }, () => budget.reserve(now)),
      [0, 0, 0, 200, 400, 600],
    );
  });

  it("refills while nobody asks, up to the burst and no further", () => {
    const budget = new CounterWriteBudget(10, 2);
    assert.equal(budget.reserve(0), 0);
    assert.equal(budget.reserve(0), 0);
    assert.equal(budget.reserve(0), 100, "the burst is spent");
    // An hour later the bucket is full again, but holds only `burst` slots.
    const later = 3_600_000;
    assert.deepEqual([budget.reserve(later), budget.reserve(later), budget.reserve(later)], [0, 0, 100]);
  });

  it("holds the rate over a long run whatever the demand: 1,000 callers at 5 per second take 200 s", () => {
    const budget = new CounterWriteBudget(5);
    const waits = Array.from({ length: 1_000 }, () => budget.reserve(0));
    // Default burst: the rate rounded up (5 at once), then one per 200 ms.
    assert.deepEqual(waits.slice(0, 6), [0, 0, 0, 0, 0, 200]);
    assert.equal(waits.at(-1), (1_000 - 5) * 200);
  });

  it("takes fractional rates, and refuses a rate or burst that could never let a write through", () => {
    const slow = new CounterWriteBudget(0.5);
    assert.deepEqual([slow.reserve(0), slow.reserve(0)], [0, 2_000]);
    assert.throws(() => new CounterWriteBudget(0), RangeError);
    assert.throws(() => new CounterWriteBudget(Number.NaN), RangeError);
    assert.throws(() => new CounterWriteBudget(5, 0), RangeError);
  });
});
