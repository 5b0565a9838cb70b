import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  IDLE_UTILIZATION,
  type MemoryRelease,
  type MemorySample,
  MIN_GROWTH_BYTES,
  releaseMemoryWhenIdle,
  SAMPLE_INTERVAL_MS,
  shouldReleaseMemory,
} from "../../../src/runtime/idle-memory.ts";
import { FakeClock } from "../../support/fake-clock.ts";

const MiB = 2 ** 20;

describe("shouldReleaseMemory", () => {
  it("releases when idle and the heap grew enough since the last release", () => {
    assert.equal(shouldReleaseMemory({ utilization: 0.001, heapCommittedBytes: 40 * MiB }, 0), true);
    assert.equal(shouldReleaseMemory({ utilization: 0.001, heapCommittedBytes: 20 * MiB + MIN_GROWTH_BYTES }, 20 * MiB), true);
  });
  it("does not under load, nor for growth too small to be worth a full collection", () => {
    assert.equal(shouldReleaseMemory({ utilization: IDLE_UTILIZATION, heapCommittedBytes: 80 * MiB }, 0), false);
    assert.equal(shouldReleaseMemory({ utilization: 0.001, heapCommittedBytes: 20 * MiB + MIN_GROWTH_BYTES - 1 }, 20 * MiB), false);
  });
});

describe("releaseMemoryWhenIdle", () => {
  it("collects once after a busy start, again only after the heap grew back, and stops with its signal", async () => {
    const clock = new FakeClock();
    const samples: MemorySample[] = [
      { utilization: 0.9, heapCommittedBytes: 40 * MiB }, // start-up: busy
      { utilization: 0.01, heapCommittedBytes: 40 * MiB }, // idle, grown since start: collect
      { utilization: 1, heapCommittedBytes: 12 * MiB }, // the sample taken right after the collection
      { utilization: 0.01, heapCommittedBytes: 13 * MiB }, // idle, barely grown: leave it
      { utilization: 0.5, heapCommittedBytes: 30 * MiB }, // a burst
      { utilization: 0.01, heapCommittedBytes: 30 * MiB }, // idle again, grown: collect
      { utilization: 1, heapCommittedBytes: 12 * MiB },
    ];
    let collections = 0;
    const releases: MemoryRelease[] = [];
    const abort = new AbortController();
    const running = releaseMemoryWhenIdle(abort.signal, {
      clock,
      sample: () => samples.shift() ?? { utilization: 0.01, heapCommittedBytes: 12 * MiB },
      collect: () => collections++,
      released: (release) => releases.push(release),
    });
    await clock.advance(SAMPLE_INTERVAL_MS);
    assert.equal(collections, 0, "not while the loop is busy");
    await clock.advance(SAMPLE_INTERVAL_MS);
    assert.equal(collections, 1);
    assert.equal(releases[0]?.heapCommittedBeforeBytes, 40 * MiB);
    assert.equal(releases[0]?.heapCommittedAfterBytes, 12 * MiB);
    await clock.advance(SAMPLE_INTERVAL_MS * 2);
    assert.equal(collections, 1, "not for 1 MiB of growth, nor during the burst");
    await clock.advance(SAMPLE_INTERVAL_MS);
    assert.equal(collections, 2);
    await clock.advance(SAMPLE_INTERVAL_MS * 10);
    assert.equal(collections, 2, "an idle process whose heap stays small is left alone");
    abort.abort();
    await running;
    assert.equal(clock.pendingTimers(), 0);
  });

  it("gives the young generation back with V8's last-resort collection, in a real process", () => {
    // A child process, so --expose-gc (set by the first release) stays out of this test runner.
    const script = `
      import { releaseMemoryWhenIdle } from ${JSON.stringify(new URL("../../../src/runtime/idle-memory.ts", import.meta.url).href)};
      import { getHeapSpaceStatistics } from "node:v8";
      const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
      const keep = [];
      for (let i = 0; i < 200; i++) keep.push(JSON.parse(JSON.stringify(Array.from({ length: 2000 }, (_, j) => ({ j, s: "x".repeat(50) }))))[0]);
      const before = newSpace();
      const abort = new AbortController();
      const clock = { now: () => 0, setTimeout: (f) => setImmediate(f), clearTimeout: (h) => clearImmediate(h) };
      await releaseMemoryWhenIdle(abort.signal, {
        clock,
        sample: () => ({ utilization: 0, heapCommittedBytes: 64 * 2 ** 20 }),
        released: () => abort.abort(),
      });
      console.log(JSON.stringify({ before, after: newSpace(), globalGc: typeof globalThis.gc }));`;
    const result = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })) as {
      before: number;
      after: number;
      globalGc: string;
    };
    assert.ok(result.before >= 8 * MiB, `the young generation grew first (${result.before} bytes)`);
    assert.ok(result.after <= result.before / 4, `and shrank to ${result.after} bytes from ${result.before}`);
    assert.equal(result.globalGc, "undefined", "the process's own global gets no gc function");
  });
});
