/**
 * Exponential backoff with jitter, a cap, and a reset after a stable period.
 *
 * One implementation serves the informer (list/watch errors), the work queue's per-key retry
 * delay (`exponentialDelayMs`, no jitter) and tunnel reconnects.
 *
 * Jitter modes (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * - `full`: delay = random() × min(cap, initial × factor^attempt). Spreads retries the most.
 * - `decorrelated`: delay = min(cap, random between initial and 3 × previous delay).
 * - `none`: delay = min(cap, initial × factor^attempt). Deterministic; for tests and queues.
 *
 * Reset: when `resetAfterMs` has passed since the previous `next()` (the operation has been stable
 * that long), the sequence starts again from `initialMs` (kube-rs `ResetTimerBackoff`). Callers may
 * also call `reset()` explicitly on success.
 */
import type { Clock } from "./clock.ts";

export type Jitter = "full" | "decorrelated" | "none";

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /** Default `full`. */
  jitter?: Jitter;
  /** Restart from `initialMs` when no `next()` happened for this long. Default: never. */
  resetAfterMs?: number;
  clock: Clock;
  /** Uniform in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** min(cap, initial × factor^attempt), attempt counted from 0. Never returns NaN/Infinity. */
export function exponentialDelayMs(initialMs: number, factor: number, attempt: number, maxMs: number): number {
  const raw = initialMs * factor ** attempt;
  return Number.isFinite(raw) ? Math.min(maxMs, raw) : maxMs;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: Jitter;
  readonly #resetAfterMs: number | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;
  #attempt = 0;
  #previousMs: number;
  #lastAt: number | undefined;

  constructor(options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError("Backoff requires 0 < initialMs <= maxMs");
    }
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? "full";
    this.#resetAfterMs = options.resetAfterMs;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#previousMs = options.initialMs;
  }

  /** Failures counted since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Delay to wait before the next retry; advances the sequence. */
  next(): number {
    const now = this.#clock.now();
    if (this.#resetAfterMs !== undefined && this.#lastAt !== undefined && now - this.#lastAt >= this.#resetAfterMs) {
      this.reset();
    }
    this.#lastAt = now;
    const attempt = this.#attempt++;
    let delay: number;
    switch (this.#jitter) {
      case "none":
        delay = exponentialDelayMs(this.#initialMs, this.#factor, attempt, this.#maxMs);
        break;
      case "full":
        delay = this.#random() * exponentialDelayMs(this.#initialMs, this.#factor, attempt, this.#maxMs);
        break;
      case "decorrelated": {
        const upper = Math.max(this.#initialMs, this.#previousMs * 3);
        delay = Math.min(this.#maxMs, this.#initialMs + this.#random() * (upper - this.#initialMs));
        break;
      }
    }
    this.#previousMs = delay;
    return Math.round(delay);
  }

  /** Starts the sequence again from `initialMs`. */
  reset(): void {
    this.#attempt = 0;
    this.#previousMs = this.#initialMs;
    this.#lastAt = undefined;
  }
}
