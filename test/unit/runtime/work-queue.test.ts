import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WorkQueue, type WorkQueueMetrics } from "../../../src/runtime/work-queue.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";

/** A promise with its resolve function exposed, to hold a worker inside a reconcile. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("WorkQueue", () => {
  it("processes a key added several times before pickup only once (dedup)", async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    queue.add("ns/a");
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    assert.equal(queue.length, 2);
    const seen: string[] = [];
    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        seen.push(key);
      },
      2,
      controller.signal,
    );
    await flush();
    controller.abort();
    await running;
    assert.deepEqual(seen, ["ns/a", "ns/b"]);
  });

  it("never hands the same key to two workers at once, and reprocesses a key re-added in flight", async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        if (runs === 1) await gate.promise;
        active--;
      },
      4,
      controller.signal,
    );
    queue.add("ns/a");
    await flush();
    assert.equal(runs, 1);
    queue.add("ns/a");
    queue.add("ns/a");
    await flush();
    assert.equal(runs, 1, "re-added key waits while the first run is in flight");
    gate.resolve();
    await flush();
    assert.equal(runs, 2, "re-added key is processed once more after the first run");
    assert.equal(maxActive, 1);
    controller.abort();
    await running;
  });

  it("retries with a per-key exponential delay and forget() resets it", async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 1000 });
    const seenAt: number[] = [];
    const start = clock.now();
    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        seenAt.push(clock.now() - start);
        if (seenAt.length < 5) queue.addRateLimited(key);
        else queue.forget(key);
      },
      1,
      controller.signal,
    );
    queue.add("ns/a");
    await clock.advance(5000);
    // Delays between runs: 100, 200, 400, 800.
    assert.deepEqual(seenAt, [0, 100, 300, 700, 1500]);
    assert.equal(queue.numRequeues("ns/a"), 0);
    queue.addRateLimited("ns/a");
    assert.equal(queue.numRequeues("ns/a"), 1, "after forget() the count starts again");
    controller.abort();
    await running;
  });

  it("caps the retry delay at maxDelayMs", () => {
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock, baseDelayMs: 100, maxDelayMs: 300 });
    for (let i = 0; i < 10; i++) queue.addRateLimited("ns/a");
    assert.equal(clock.nextDue(), clock.now() + 100, "the earliest pending delayed add wins");
  });

  it("adds a key after the delay given to addAfter, keeping the earliest of several delays", async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock });
    queue.addAfter("ns/a", 1000);
    queue.addAfter("ns/a", 500);
    queue.addAfter("ns/a", 2000);
    await clock.advance(499);
    assert.equal(queue.length, 0);
    await clock.advance(1);
    assert.equal(queue.length, 1);
    await clock.advance(5000);
    assert.equal(queue.length, 1, "the later delays were dropped, not added again");
    assert.equal(clock.pendingTimers(), 0);
  });

  it("drains on shutdown: in-flight work finishes, nothing new starts, delayed adds are dropped", async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock });
    const gate = deferred();
    const started: string[] = [];
    const finished: string[] = [];
    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        started.push(key);
        await gate.promise;
        finished.push(key);
      },
      1,
      controller.signal,
    );
    queue.add("ns/a");
    queue.add("ns/b");
    queue.addAfter("ns/c", 100);
    await flush();
    controller.abort();
    let settled = false;
    void running.then(() => {
      settled = true;
    });
    await flush();
    assert.equal(settled, false, "run() waits for the in-flight key");
    queue.add("ns/d");
    gate.resolve();
    await running;
    await clock.advance(1000);
    assert.deepEqual(started, ["ns/a"]);
    assert.deepEqual(finished, ["ns/a"]);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("stops and rejects with the error when a worker throws", async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    queue.add("ns/a");
    const boom = new Error("boom");
    await assert.rejects(
      queue.run(
        async () => {
          throw boom;
        },
        2,
        new AbortController().signal,
      ),
      boom,
    );
    assert.equal(queue.isShuttingDown, true);
  });

  it("reports depth, adds, retries and durations to its metrics hooks", async () => {
    const clock = new FakeClock();
    const calls = { depth: [] as number[], added: 0, retried: 0, queue: [] as number[], work: [] as number[] };
    const metrics: WorkQueueMetrics = {
      depth: (n) => calls.depth.push(n),
      added: () => calls.added++,
      retried: () => calls.retried++,
      queueDuration: (s) => calls.queue.push(s),
      workDuration: (s) => calls.work.push(s),
    };
    const queue = new WorkQueue({ clock, metrics });
    queue.add("ns/a");
    queue.add("ns/a");
    await clock.advance(2000);
    const gate = deferred();
    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        await gate.promise;
        if (calls.retried === 0) queue.addRateLimited(key);
      },
      1,
      controller.signal,
    );
    await clock.advance(500);
    gate.resolve();
    await clock.advance(100);
    controller.abort();
    await running;
    assert.equal(calls.added, 2, "the duplicate add is not counted (as client-go); the in-flight re-add is");
    assert.equal(calls.retried, 1);
    assert.equal(calls.queue[0], 2);
    assert.equal(calls.work[0], 0.5);
    assert.equal(calls.depth[0], 1);
  });
});
