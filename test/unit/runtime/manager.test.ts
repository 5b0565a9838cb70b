import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { Manager, type Runnable } from "../../../src/runtime/manager.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function recording(name: string, log: string[], start?: (signal: AbortSignal) => Promise<void>): Runnable {
  return {
    name,
    async start(signal) {
      log.push(`${name}:start`);
      await (start ?? untilAborted)(signal);
      log.push(`${name}:stopped`);
    },
    close() {
      log.push(`${name}:close`);
    },
  };
}

describe("Manager", () => {
  it("starts every runnable, stops them all on SIGTERM, then closes in reverse order", async () => {
    const signals = new EventEmitter();
    const log: string[] = [];
    const manager = new Manager({ signals, clock: new FakeClock() });
    manager.add(recording("health", log, async () => {}));
    manager.add(recording("controller", log));
    const running = manager.start();
    await flush();
    assert.deepEqual(log, ["health:start", "controller:start", "health:stopped"]);
    signals.emit("SIGTERM");
    await running;
    assert.deepEqual(log.slice(3), ["controller:stopped", "controller:close", "health:close"]);
    assert.equal(signals.listenerCount("SIGTERM"), 0, "signal handlers removed");
    assert.equal(signals.listenerCount("SIGINT"), 0);
  });

  it("stops everything and rejects with the error when one runnable fails", async () => {
    const log: string[] = [];
    const manager = new Manager({ signals: null, clock: new FakeClock() });
    const boom = new Error("informer handler bug");
    manager.add(recording("controller", log));
    manager.add({
      name: "broken",
      start: async () => {
        throw boom;
      },
    });
    await assert.rejects(manager.start(), boom);
    assert.ok(log.includes("controller:stopped"));
  });

  it("rejects with PF_ERR_SHUTDOWN_TIMEOUT when a runnable outlives the grace period", async () => {
    const clock = new FakeClock();
    const manager = new Manager({ signals: null, clock, gracePeriodMs: 1000 });
    let closed = false;
    manager.add({
      name: "stuck",
      start: () => new Promise<void>(() => {}),
      close: () => {
        closed = true;
      },
    });
    const controller = new AbortController();
    const running = manager.start(controller.signal);
    const outcome = assert.rejects(running, { code: "PF_ERR_SHUTDOWN_TIMEOUT" });
    controller.abort();
    await clock.advance(1000);
    await outcome;
    assert.equal(closed, true, "close() still runs after the grace period");
  });

  it("close() shuts down a running manager", async () => {
    const log: string[] = [];
    const manager = new Manager({ signals: null, clock: new FakeClock() });
    manager.add(recording("a", log));
    const running = manager.start();
    await flush();
    await manager.close();
    await running;
    assert.deepEqual(log, ["a:start", "a:stopped", "a:close"]);
  });
});
