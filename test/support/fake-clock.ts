/**
 * A deterministic `Clock` for tests. Time only moves when the test calls `advance`/`tick`; timers
 * fire in due-time order (ties in creation order), and pending promise callbacks are flushed
 * between timers so async code reacting to one timer can schedule the next.
 */
import type { Clock, TimerHandle } from "../../src/runtime/clock.ts";

interface FakeTimer {
  id: number;
  due: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, FakeTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, due: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Number of timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    let due: number | undefined;
    for (const t of this.#timers.values()) if (due === undefined || t.due < due) due = t.due;
    return due;
  }

  /**
   * Moves time forward by `ms`, firing every timer that becomes due (including ones scheduled by
   * callbacks along the way), and flushing microtasks/immediates before and after each one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      const next = this.#earliest();
      if (next === undefined || next.due > target) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.due);
      next.callback();
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /** Advances to the earliest pending timer and fires it (and any others due at that instant). */
  async tick(): Promise<void> {
    const due = this.nextDue();
    if (due !== undefined) await this.advance(due - this.#now);
    else await flush();
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers.values()) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** Lets queued promise reactions and immediates run (several rounds, for chained awaits). */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
