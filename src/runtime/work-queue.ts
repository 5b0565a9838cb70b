/**
 * A rate-limited work queue of keys (`namespace/name` strings), after client-go's workqueue.
 *
 * Guarantees (each has its own unit test):
 * - Dedup: a key added several times before a worker picks it up is processed once.
 * - No concurrent same-key processing: a key is handed to at most one worker at a time. A key added
 *   while it is being processed is marked dirty and processed again once the current run is done.
 * - Rate-limited retry: `addRateLimited(key)` re-adds after a per-key exponential delay
 *   (`baseDelayMs × 2^failures`, capped at `maxDelayMs`); `forget(key)` resets the count.
 * - Delayed requeue: `addAfter(key, ms)`; several pending delays for one key keep the earliest.
 * - Drain on shutdown: once the `run` signal aborts, no new key starts, pending delays are dropped,
 *   and `run` resolves only after every in-flight worker call has returned. Keys still queued are
 *   dropped: the queue is level-based, so a restarted process rebuilds them from a fresh list.
 *
 * Ordering is FIFO by first add. The queue holds keys only, never objects or event types: the worker
 * reads the latest state itself (controller-runtime FAQ: don't branch on event type).
 */
import { exponentialDelayMs } from "./backoff.ts";
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";

/** Hooks for the controller-runtime `workqueue_*` metrics; see observability/metrics.ts. */
export interface WorkQueueMetrics {
  /** `workqueue_depth`: keys waiting (not counting in-flight ones). */
  depth(n: number): void;
  /**
   * `workqueue_adds_total`: adds that marked a key for processing. As in client-go, an add of a key
   * that is already waiting is de-duplicated before it is counted; a re-add while in flight counts.
   */
  added(): void;
  /** `workqueue_retries_total`: every `addRateLimited`. */
  retried(): void;
  /** `workqueue_queue_duration_seconds`: time from first add to a worker picking the key up. */
  queueDuration(seconds: number): void;
  /** `workqueue_work_duration_seconds`: time a worker spent on the key. */
  workDuration(seconds: number): void;
}

export interface WorkQueueOptions {
  clock?: Clock;
  metrics?: WorkQueueMetrics;
  /** First retry delay of `addRateLimited`. Default 5 ms (controller-runtime). */
  baseDelayMs?: number;
  /** Longest retry delay of `addRateLimited`. Default 1000 s (controller-runtime). */
  maxDelayMs?: number;
}

/**
 * Processes one key. It should handle its own errors (re-add with `addRateLimited`, or `forget`);
 * a rejection is treated as a programming error: the queue shuts down and `run` rejects with it.
 */
export type Worker = (key: string, signal: AbortSignal) => Promise<void>;

const noMetrics: WorkQueueMetrics = {
  depth() {},
  added() {},
  retried() {},
  queueDuration() {},
  workDuration() {},
};

interface Delayed {
  due: number;
  handle: TimerHandle;
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #metrics: WorkQueueMetrics;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  /** FIFO of keys ready to be handed out; each key appears at most once. */
  #queue: string[] = [];
  /** Keys that need processing (queued, or re-added while in flight), with first-add time. */
  readonly #dirty = new Map<string, number>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics ?? noMetrics;
    this.#baseDelayMs = options.baseDelayMs ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 1_000_000;
  }

  /** Keys waiting to be processed (excludes in-flight and delayed keys). */
  get length(): number {
    return this.#queue.length;
  }

  get isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Marks `key` for processing. No-op after shutdown. */
  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) return;
    this.#metrics.added();
    this.#dirty.set(key, this.#clock.now());
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Adds `key` after `ms`. If a delayed add for `key` is already pending, the earlier one wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      this.#clock.clearTimeout(existing.handle);
    }
    const handle = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { due, handle });
  }

  /** Re-adds `key` after its next per-key exponential delay, and counts a retry. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.#metrics.retried();
    this.addAfter(key, exponentialDelayMs(this.#baseDelayMs, 2, failures, this.#maxDelayMs));
  }

  /** Resets the retry count of `key` (call after a successful reconcile). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many times `key` was re-added with `addRateLimited` since the last `forget`. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Runs `concurrency` workers until `signal` aborts, then drains (see the file header).
   * Rejects with the first error a worker threw, after the other workers have finished.
   */
  async run(worker: Worker, concurrency: number, signal: AbortSignal): Promise<void> {
    if (!(concurrency >= 1)) throw new RangeError("WorkQueue.run requires concurrency >= 1");
    const onAbort = (): void => this.shutdown();
    if (signal.aborted) this.shutdown();
    else signal.addEventListener("abort", onAbort, { once: true });
    let failure: { error: unknown } | undefined;
    const loop = async (): Promise<void> => {
      for (;;) {
        const key = await this.#get();
        if (key === undefined) return;
        const started = this.#clock.now();
        try {
          await worker(key, signal);
        } catch (error) {
          failure ??= { error };
          this.shutdown();
        } finally {
          this.#metrics.workDuration((this.#clock.now() - started) / 1000);
          this.#done(key);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, loop));
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Stops accepting keys, drops queued and delayed keys, and wakes idle workers so they exit. */
  shutdown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { handle } of this.#delayed.values()) this.#clock.clearTimeout(handle);
    this.#delayed.clear();
    for (const key of this.#queue) this.#dirty.delete(key);
    this.#queue = [];
    this.#metrics.depth(0);
    for (const wake of this.#waiters.splice(0)) wake(undefined);
  }

  /** Same as `shutdown()`; for the `close()` lifecycle convention. */
  close(): void {
    this.shutdown();
  }

  #enqueue(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#take(key);
      waiter(key);
      return;
    }
    this.#queue.push(key);
    this.#metrics.depth(this.#queue.length);
  }

  /** Moves `key` from dirty to processing and records how long it waited. */
  #take(key: string): void {
    const addedAt = this.#dirty.get(key) ?? this.#clock.now();
    this.#dirty.delete(key);
    this.#processing.add(key);
    this.#metrics.queueDuration((this.#clock.now() - addedAt) / 1000);
  }

  #get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#metrics.depth(this.#queue.length);
      this.#take(key);
      return Promise.resolve(key);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key);
  }
}
