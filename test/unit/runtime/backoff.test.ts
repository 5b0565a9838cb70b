import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff, exponentialDelayMs } from "../../../src/runtime/backoff.ts";
import { FakeClock } from "../../support/fake-clock.ts";

function sequence(backoff: Backoff, n: number): number[] {
  return Array.from({ length: n }, () => backoff.next());
}

describe("exponentialDelayMs", () => {
  it("doubles from the initial delay and stops at the cap", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((a) => exponentialDelayMs(100, 2, a, 1000)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });

  it("returns the cap instead of Infinity for huge attempt counts", () => {
    assert.equal(exponentialDelayMs(5, 2, 5000, 1_000_000), 1_000_000);
  });
});

describe("Backoff", () => {
  it("without jitter grows exponentially up to the cap", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "none", clock: new FakeClock() });
    assert.deepEqual(sequence(backoff, 6), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoff.attempt, 6);
  });

  it("with full jitter scales the exponential delay by random()", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "full", clock: new FakeClock(), random: () => 0.5 });
    assert.deepEqual(sequence(backoff, 5), [50, 100, 200, 400, 500]);
  });

  it("with full jitter never exceeds the cap", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "full", clock: new FakeClock(), random: () => 0.999 });
    for (const d of sequence(backoff, 20)) assert.ok(d <= 1000);
  });

  it("with decorrelated jitter stays between initial and 3x the previous delay, capped", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "decorrelated", clock: new FakeClock(), random: () => 1 });
    // random() = 1 picks the upper bound each time: 300, 900, then the cap.
    assert.deepEqual(sequence(backoff, 4), [300, 900, 1000, 1000]);
    const low = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "decorrelated", clock: new FakeClock(), random: () => 0 });
    assert.deepEqual(sequence(low, 3), [100, 100, 100]);
  });

  it("starts over after the stable period has passed since the last failure", async () => {
    const clock = new FakeClock();
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: "none", resetAfterMs: 5000, clock });
    assert.deepEqual(sequence(backoff, 3), [100, 200, 400]);
    await clock.advance(4999);
    assert.equal(backoff.next(), 800, "not yet stable: keeps growing");
    await clock.advance(5000);
    assert.equal(backoff.next(), 100, "stable for resetAfterMs: starts over");
  });

  it("reset() starts the sequence again", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: "none", clock: new FakeClock() });
    sequence(backoff, 3);
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });

  it("rejects an initial delay above the cap", () => {
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5, clock: new FakeClock() }), RangeError);
  });
});
