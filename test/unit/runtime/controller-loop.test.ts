import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ControllerLoop,
  type ControllerLoopMetrics,
  outcomeOf,
  type Reconcile,
  type ReconcileOutcome,
} from "../../../src/runtime/controller-loop.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";

/** A promise with its resolve function exposed, to hold a reconcile or a cache sync open. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

interface Recorded {
  readonly initialized: string[];
  readonly observed: { outcome: ReconcileOutcome; seconds: number }[];
  readonly queues: string[];
  retries: number;
}

function recordingMetrics(): { metrics: ControllerLoopMetrics; recorded: Recorded } {
  const recorded: Recorded = { initialized: [], observed: [], queues: [], retries: 0 };
  const metrics: ControllerLoopMetrics = {
    reconciles: (controller) => ({
      initialize: (outcome) => recorded.initialized.push(`${controller}/${outcome}`),
      observe: (outcome, seconds) => recorded.observed.push({ outcome, seconds }),
    }),
    workQueue(name) {
      recorded.queues.push(name);
      return {
        depth() {},
        added() {},
        retried: () => {
          recorded.retries++;
        },
        queueDuration() {},
        workDuration() {},
      };
    },
  };
  return { metrics, recorded };
}

interface LogLine {
  readonly level: "info" | "warn";
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
}

function recordingLog(): {
  log: { info: (m: string, f?: LogLine["fields"]) => void; warn: (m: string, f?: LogLine["fields"]) => void };
  lines: LogLine[];
} {
  const lines: LogLine[] = [];
  return {
    lines,
    log: {
      info: (msg, fields) => lines.push({ level: "info", msg, fields }),
      warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
    },
  };
}

function aLoop(reconcile: Reconcile, options: { concurrency?: number; clock?: FakeClock } = {}) {
  const clock = options.clock ?? new FakeClock();
  const { metrics, recorded } = recordingMetrics();
  const { log, lines } = recordingLog();
  const loop = new ControllerLoop({
    name: "demo",
    reconcile,
    concurrency: options.concurrency ?? 1,
    metrics,
    log,
    keyLogField: "portforward",
    clock,
    baseDelayMs: 100,
    maxDelayMs: 1_000,
  });
  return { loop, clock, recorded, lines };
}

describe("outcomeOf", () => {
  it("is requeue_after for a positive requeueAfterMs and success otherwise", () => {
    assert.equal(outcomeOf({ requeueAfterMs: 1 }), "requeue_after");
    assert.equal(outcomeOf({ requeueAfterMs: 0 }), "success");
    assert.equal(outcomeOf({}), "success");
  });
});

describe("ControllerLoop", () => {
  it("creates the series of every outcome and of its queue, named after the controller, when it is built", () => {
    const { recorded } = aLoop(async () => ({}));
    assert.deepEqual(recorded.initialized, ["demo/success", "demo/error", "demo/requeue_after"]);
    assert.deepEqual(recorded.queues, ["demo"]);
    assert.deepEqual(recorded.observed, [], "nothing is counted before a reconcile ran");
  });

  it("starts no reconcile before every cache synced, then reconciles the keys added meanwhile", async () => {
    const seen: string[] = [];
    const { loop, lines } = aLoop(async (key) => {
      seen.push(key);
      return {};
    });
    const caches = [deferred(), deferred()];
    let startedAfter: string[] | undefined;
    const controller = new AbortController();
    loop.queue.add("ns/a");
    const running = loop.run(controller.signal, {
      waitFor: caches.map((c) => c.promise),
      onStarted: () => {
        startedAfter = [...seen];
      },
    });
    caches[0]!.resolve();
    await flush();
    assert.deepEqual(seen, [], "one cache still listing");
    assert.equal(startedAfter, undefined);
    caches[1]!.resolve();
    await flush();
    assert.deepEqual(seen, ["ns/a"]);
    assert.deepEqual(startedAfter, [], "onStarted runs once synced, before the first reconcile");
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.fields]),
      [["info", "Caches synced; starting workers", { controller: "demo", workers: 1 }]],
    );
    controller.abort();
    await running;
  });

  it("returns cleanly when the signal aborts during the sync wait, having reconciled nothing", async () => {
    let reconciles = 0;
    const { loop, lines } = aLoop(async () => {
      reconciles++;
      return {};
    });
    loop.queue.add("ns/a");
    const controller = new AbortController();
    let started = false;
    const running = loop.run(controller.signal, {
      waitFor: [new Promise(() => {})],
      onStarted: () => {
        started = true;
      },
    });
    await flush();
    controller.abort();
    await running;
    assert.equal(reconciles, 0);
    assert.equal(started, false);
    assert.equal(loop.queue.isShuttingDown, true, "the queue is shut down, so nothing waits on it");
    assert.deepEqual(lines, []);
  });

  it("rejects with a failed sync, and shuts the queue down", async () => {
    const { loop } = aLoop(async () => ({}));
    await assert.rejects(loop.run(new AbortController().signal, { waitFor: [Promise.reject(new Error("list failed"))] }), /list failed/);
    assert.equal(loop.queue.isShuttingDown, true);
  });

  it("forgets a key whose reconcile succeeded, so its retry backoff starts over", async () => {
    let calls = 0;
    const { loop, clock, recorded } = aLoop(async () => {
      calls++;
      if (calls <= 2) throw new Error("conflict");
      return {};
    });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.queue.add("ns/a");
    await flush();
    assert.equal(loop.queue.numRequeues("ns/a"), 1);
    await clock.advance(100 + 200);
    assert.equal(calls, 3);
    assert.equal(loop.queue.numRequeues("ns/a"), 0, "forgotten after the success");
    assert.equal(clock.pendingTimers(), 0, "and not re-added");
    assert.deepEqual(
      recorded.observed.map((o) => o.outcome),
      ["error", "error", "success"],
    );
    controller.abort();
    await running;
  });

  it("re-adds a key after the requeueAfterMs its reconcile returned, and counts requeue_after with the reconcile's duration", async () => {
    const clock = new FakeClock();
    const startedAt: number[] = [];
    const t0 = clock.now();
    const { loop, recorded } = aLoop(
      async () => {
        startedAt.push(clock.now() - t0);
        if (startedAt.length === 1) await new Promise<void>((resolve) => clock.setTimeout(resolve, 250));
        return { requeueAfterMs: 30_000 };
      },
      { clock },
    );
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.queue.add("ns/a");
    await clock.advance(250);
    assert.deepEqual(startedAt, [0]);
    await clock.advance(29_999);
    assert.deepEqual(startedAt, [0], "not before the delay is over");
    await clock.advance(1);
    assert.deepEqual(startedAt, [0, 30_250]);
    assert.deepEqual(recorded.observed[0], { outcome: "requeue_after", seconds: 0.25 });
    assert.equal(recorded.retries, 0, "a requeue is no retry");
    controller.abort();
    await running;
  });

  it("retries a throwing reconcile with per-key backoff, logs it, and keeps reconciling other keys", async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const runs: { key: string; at: number }[] = [];
    const { loop, lines, recorded } = aLoop(
      async (key) => {
        runs.push({ key, at: clock.now() - t0 });
        if (key === "ns/broken") throw new Error("forbidden");
        return {};
      },
      { clock },
    );
    const controller = new AbortController();
    let settled = false;
    const running = loop.run(controller.signal).finally(() => {
      settled = true;
    });
    loop.queue.add("ns/broken");
    await flush();
    loop.queue.add("ns/ok");
    await clock.advance(100 + 200 + 400);
    assert.deepEqual(runs, [
      { key: "ns/broken", at: 0 },
      { key: "ns/ok", at: 0 },
      { key: "ns/broken", at: 100 },
      { key: "ns/broken", at: 300 },
      { key: "ns/broken", at: 700 },
    ]);
    assert.equal(settled, false, "a thrown error does not stop the loop");
    assert.equal(loop.queue.isShuttingDown, false, "nor shut the queue down");
    assert.equal(recorded.retries, 4);
    const warning = lines.find((l) => l.level === "warn");
    assert.equal(warning?.msg, "Reconcile failed; retrying with backoff");
    assert.equal(warning?.fields?.controller, "demo");
    assert.equal(warning?.fields?.portforward, "ns/broken", "the key under the caller's field name");
    assert.match(String(warning?.fields?.error), /forbidden/);
    controller.abort();
    await running;
  });

  it("counts but neither logs nor retries a reconcile that throws while the loop stops", async () => {
    const gate = deferred();
    const { loop, lines, recorded, clock } = aLoop(async () => {
      await gate.promise;
      throw new Error("aborted");
    });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.queue.add("ns/a");
    await flush();
    controller.abort();
    gate.resolve();
    await running;
    assert.deepEqual(
      recorded.observed.map((o) => o.outcome),
      ["error"],
    );
    assert.equal(recorded.retries, 0);
    assert.equal(clock.pendingTimers(), 0);
    assert.deepEqual(
      lines.filter((l) => l.level === "warn"),
      [],
    );
  });

  it("runs at most `concurrency` reconciles at once", async () => {
    const gates = new Map<string, ReturnType<typeof deferred>>();
    let active = 0;
    let maxActive = 0;
    const { loop } = aLoop(
      async (key) => {
        active++;
        maxActive = Math.max(maxActive, active);
        const gate = deferred();
        gates.set(key, gate);
        await gate.promise;
        active--;
        return {};
      },
      { concurrency: 2 },
    );
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    for (const key of ["ns/a", "ns/b", "ns/c", "ns/d", "ns/e"]) loop.queue.add(key);
    await flush();
    assert.equal(active, 2);
    assert.equal(loop.queue.length, 3);
    gates.get("ns/a")!.resolve();
    await flush();
    assert.equal(active, 2, "a finished reconcile frees one worker for the next key");
    assert.deepEqual([...gates.keys()], ["ns/a", "ns/b", "ns/c"]);
    for (const key of ["ns/b", "ns/c"]) gates.get(key)!.resolve();
    await flush();
    for (const key of ["ns/d", "ns/e"]) gates.get(key)!.resolve();
    await flush();
    assert.equal(maxActive, 2);
    assert.equal(gates.size, 5);
    controller.abort();
    await running;
  });

  it("never reconciles one key twice at once: a key added in flight runs again after, once", async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const { loop } = aLoop(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        if (runs === 1) await gate.promise;
        active--;
        return {};
      },
      { concurrency: 4 },
    );
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.queue.add("ns/a");
    await flush();
    loop.queue.add("ns/a");
    loop.queue.add("ns/a");
    await flush();
    assert.equal(runs, 1, "the re-added key waits for the run in flight");
    gate.resolve();
    await flush();
    assert.equal(runs, 2);
    assert.equal(maxActive, 1);
    controller.abort();
    await running;
  });

  it("refuses a concurrency below 1", () => {
    assert.throws(() => aLoop(async () => ({}), { concurrency: 0 }), RangeError);
  });
});
