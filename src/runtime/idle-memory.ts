/**
 * Gives memory back once a long-running component (controller, gateway) has gone idle.
 *
 * Why (issue #15, gateway idle RSS ≤ 100 MiB): start-up lists every watched kind, and parsing
 * those pages makes V8 grow its young generation (to 13–16 MiB committed) and its old
 * generation's free pages. V8 keeps them for as long as the process lives: an idle process
 * allocates too little to ever trigger the collections that would shrink them. In the gateway
 * with 1,000 other pods in the cluster that was some 20 MiB of its 109–113 MiB idle RSS
 * (docs/benchmarks.md, "Lean processes").
 *
 * What: one memory-reducing full collection, V8's "last resort" flavour of its gc extension
 * (the one V8 itself runs before giving up on an allocation): it shrinks the young generation
 * to its minimum and returns pooled pages to the system. It costs one full collection of the
 * heap, 15–40 ms of the main thread on these heaps, and only ever runs when the loop is idle.
 *
 * When (`shouldReleaseMemory`, pure): the event loop was busy for less than
 * IDLE_UTILIZATION of the last sample interval, and the committed heap has grown by at least
 * MIN_GROWTH_BYTES since the last release (or since start). So it runs once after start-up,
 * again after a burst that grew the heap, and never under steady load, where the heap would grow
 * back at once and the collection would be paid for nothing.
 *
 * The gc function: V8 installs its gc extension in contexts created after `--expose-gc` is set.
 * The flag is set at the first release and `gc` taken from a fresh vm context, so the
 * process's own global object never has a `gc`.
 */
import { type EventLoopUtilization, performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Clock, sleep, systemClock } from "./clock.ts";

/** How often the loop's utilization and the heap are sampled. */
export const SAMPLE_INTERVAL_MS = 5_000;
/** Busy for less than this share of a sample interval counts as idle. */
export const IDLE_UTILIZATION = 0.02;
/** Growth of the committed heap since the last release that is worth a collection. */
export const MIN_GROWTH_BYTES = 4 * 1024 * 1024;

export interface MemorySample {
  /** Share of the last interval the event loop was busy, 0–1. */
  readonly utilization: number;
  /** The heap V8 has committed now (`process.memoryUsage().heapTotal`). */
  readonly heapCommittedBytes: number;
}

/** Pure: whether to release now, given this sample and the committed heap after the last release. */
export function shouldReleaseMemory(sample: MemorySample, committedAfterLastRelease: number): boolean {
  return sample.utilization < IDLE_UTILIZATION && sample.heapCommittedBytes - committedAfterLastRelease >= MIN_GROWTH_BYTES;
}

export interface MemoryRelease {
  readonly heapCommittedBeforeBytes: number;
  readonly heapCommittedAfterBytes: number;
  readonly durationMs: number;
}

export interface IdleMemoryOptions {
  readonly clock?: Clock;
  /** Told of every release (a log line, a metric). */
  readonly released?: (release: MemoryRelease) => void;
  /** The collection; default V8's last-resort one (see the header). Tests count calls instead. */
  readonly collect?: () => void;
  /** Default the process's loop utilization and heap. */
  readonly sample?: () => MemorySample;
}

/** Samples until `signal` aborts, releasing memory whenever `shouldReleaseMemory` says so. */
export async function releaseMemoryWhenIdle(signal: AbortSignal, options: IdleMemoryOptions = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const sample = options.sample ?? processSampler();
  const collect = options.collect ?? lastResortCollection;
  let committedAfterLastRelease = 0;
  while (await sleep(clock, SAMPLE_INTERVAL_MS, signal)) {
    const now = sample();
    if (!shouldReleaseMemory(now, committedAfterLastRelease)) continue;
    const started = performance.now();
    collect();
    // A sample now also starts the next interval after the collection, whose busy time is ours.
    committedAfterLastRelease = sample().heapCommittedBytes;
    options.released?.({
      heapCommittedBeforeBytes: now.heapCommittedBytes,
      heapCommittedAfterBytes: committedAfterLastRelease,
      durationMs: performance.now() - started,
    });
  }
}

/** Samples the process: loop utilization since the previous call, and the committed heap. */
function processSampler(): () => MemorySample {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return { utilization, heapCommittedBytes: process.memoryUsage().heapTotal };
  };
}

type GcExtension = (options: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

let gcExtension: GcExtension | undefined;

function lastResortCollection(): void {
  if (gcExtension === undefined) {
    setFlagsFromString("--expose-gc");
    gcExtension = runInNewContext("gc") as GcExtension;
  }
  gcExtension({ type: "major", execution: "sync", flavor: "last-resort" });
}
