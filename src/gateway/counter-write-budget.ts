/**
 * How many status writes per second one gateway replica spends on entries whose only change is
 * their counters (activeConnections, reconnects, refusals), across every PortForward it serves.
 * Pure: the caller passes the time.
 *
 * Why a budget per replica: each such write is a CRD status apply (5–12 ms of the API server's
 * CPU, docs/benchmarks.md) and makes the controller apply the PortForward's totals once more.
 * Per PortForward they are already at most one per COUNTER_REPORT_INTERVAL_MS (gateway-status.ts),
 * but a replica serving N busy PortForwards would still write N/5 per second, a cost that grows
 * as PortForwards × replicas. Under the budget a replica's counter writes stay at `perSecond`
 * whatever N is; when it binds, each busy PortForward's counters age to ~N/`perSecond` seconds.
 * Significant changes (connected or not, errors, the first refusal) never take from it.
 *
 * Contract (a token bucket, reserved in advance so that waiting callers do not all wake for the
 * same token): `reserve(now)` books the earliest free slot and returns how many ms from `now` it
 * is; the caller writes then, without asking again. Up to `burst` slots are free at once; after
 * that, one every 1000/`perSecond` ms, each to one caller, in the order they asked.
 */
/**
 * `--counter-writes-per-second`'s default: up to 25 busy PortForwards per replica keep the 5 s
 * interval, and the API server spends about a tenth of a core per replica on them at most (each
 * write and the controller's apply it causes cost it 5–12 ms apiece: docs/benchmarks.md).
 */
export const DEFAULT_COUNTER_WRITES_PER_SECOND = 5;

export class CounterWriteBudget {
  readonly #intervalMs: number;
  readonly #burstMs: number;
  /** When the bucket would be full again if nobody booked more (GCRA's theoretical arrival time). */
  #fullAt = Number.NEGATIVE_INFINITY;

  constructor(perSecond: number, burst = Math.max(1, Math.ceil(perSecond))) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`CounterWriteBudget needs perSecond > 0, got ${perSecond}`);
    if (!(burst >= 1)) throw new RangeError(`CounterWriteBudget needs burst >= 1, got ${burst}`);
    this.#intervalMs = 1000 / perSecond;
    this.#burstMs = (burst - 1) * this.#intervalMs;
  }

  /** Books the next slot; returns the ms from `now` until it (0: write now). */
  reserve(now: number): number {
    const slot = Math.max(now, this.#fullAt - this.#burstMs);
    this.#fullAt = Math.max(this.#fullAt, now) + this.#intervalMs;
    return slot - now;
  }
}
