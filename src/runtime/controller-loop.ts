/**
 * The work loop every controller shares: keys from a WorkQueue to a reconcile function, and the
 * reconcile's result back to the queue. After controller-runtime's `reconcileHandler`
 * (pkg/internal/controller/controller.go) and kube-rs's `Controller`; the controller and the
 * gateway's two queues all run on it.
 *
 * Contract:
 * - `run` starts workers once every `waitFor` promise has resolved (the caches listed once), so no
 *   reconcile plans from a partial view. If the signal aborts first, the queue shuts down and `run`
 *   resolves without reconciling anything.
 * - One decision per finished reconcile (`outcomeOf`), one queue action and one metric label each:
 *     resolved, no requeueAfterMs  → forget (the retry backoff starts over)   result="success"
 *     resolved, requeueAfterMs > 0 → forget, then addAfter(requeueAfterMs)     result="requeue_after"
 *     threw                         → addRateLimited (per-key exponential)      result="error"
 *   A throw is logged and retried, never passed to the queue: it is the reconcile's failure, and
 *   the queue treats a worker's rejection as a bug and shuts down (work-queue.ts). A throw while
 *   stopping (signal aborted, or the queue shut down by its owner) is counted, not logged or retried.
 * - At most `concurrency` reconciles run at once, and never two of one key (the queue's guarantee).
 * - Metrics go through `ControllerLoopMetrics` (runtime/ imports no metrics library;
 *   observability/metrics.ts binds it to Prometheus under controller-runtime's names). The queue's
 *   series are named after the controller, and every outcome's series exists at zero from
 *   construction (controller-runtime's initMetrics), so rate() and alerts see 0 before the first
 *   reconcile, and on a standby that never reconciles.
 *
 * Why a class and not one function: the queue has to exist before `run`. Event handlers add keys
 * as soon as they are wired, and a controller that waits for leadership collects keys meanwhile.
 */
import { type Clock, systemClock } from "./clock.ts";
import { WorkQueue, type WorkQueueMetrics } from "./work-queue.ts";

/** What one reconcile asks of the queue. Empty: nothing; the next change of the key enqueues it. */
export interface ReconcileResult {
  /** Look again after this long even if nothing changes (level-based: drift, periodic checks). */
  readonly requeueAfterMs?: number;
}

/** Reconciles one key. A throw is retried with the queue's per-key backoff. */
export type Reconcile = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** The `result` label of `controller_runtime_reconcile_total`: how one reconcile ended. */
export type ReconcileOutcome = "success" | "error" | "requeue_after";

/** Every outcome, in the order their series are created. */
export const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ["success", "error", "requeue_after"];

/** Pure: the outcome of a reconcile that resolved with `result`. */
export function outcomeOf(result: ReconcileResult): ReconcileOutcome {
  return (result.requeueAfterMs ?? 0) > 0 ? "requeue_after" : "success";
}

/** Reconcile metrics of one controller. */
export interface ReconcileMetrics {
  /** Creates the series of `outcome` at zero (no reconcile counted). */
  initialize(outcome: ReconcileOutcome): void;
  /** Counts one finished reconcile and its duration. */
  observe(outcome: ReconcileOutcome, seconds: number): void;
}

/** Where a loop reports; observability/metrics.ts `registerControllerMetrics` is the Prometheus one. */
export interface ControllerLoopMetrics {
  /** The reconcile metrics of controller `controller` (label `controller`). */
  reconciles(controller: string): ReconcileMetrics;
  /** The hooks of the work queue `name` (label `name`); its series exist from this call on. */
  workQueue(name: string): WorkQueueMetrics;
}

/** The logging the loop does; observability/log.ts's Logger is one. */
export interface ControllerLoopLog {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface ControllerLoopOptions {
  /** The controller's name: the `controller` label of its reconciles and the `name` of its queue. */
  readonly name: string;
  readonly reconcile: Reconcile;
  /** Reconciles at once (controller-runtime's MaxConcurrentReconciles). */
  readonly concurrency: number;
  readonly metrics: ControllerLoopMetrics;
  readonly log: ControllerLoopLog;
  /** The log field a key goes under (e.g. `portforward`). Default `key`. */
  readonly keyLogField?: string;
  readonly clock?: Clock;
  /** Retry delays of the queue (WorkQueue's defaults: 5 ms doubling up to 1000 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface RunOptions {
  /** Workers start once all of these resolved (cache syncs). */
  readonly waitFor?: readonly Promise<unknown>[];
  /** Called once the caches synced, just before the first worker starts. */
  readonly onStarted?: () => void;
}

export class ControllerLoop {
  /** Add keys here; `run` reconciles them. Shutting it down stops `run` (after in-flight reconciles). */
  readonly queue: WorkQueue;
  readonly #options: ControllerLoopOptions;
  readonly #clock: Clock;
  readonly #metrics: ReconcileMetrics;

  constructor(options: ControllerLoopOptions) {
    if (!(options.concurrency >= 1)) throw new RangeError(`ControllerLoop ${options.name} requires concurrency >= 1`);
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.queue = new WorkQueue({
      clock: this.#clock,
      metrics: options.metrics.workQueue(options.name),
      ...(options.baseDelayMs === undefined ? {} : { baseDelayMs: options.baseDelayMs }),
      ...(options.maxDelayMs === undefined ? {} : { maxDelayMs: options.maxDelayMs }),
    });
    this.#metrics = options.metrics.reconciles(options.name);
    for (const outcome of RECONCILE_OUTCOMES) this.#metrics.initialize(outcome);
  }

  /** Waits for `waitFor`, then reconciles until `signal` aborts or the queue shuts down, and drains. */
  async run(signal: AbortSignal, options: RunOptions = {}): Promise<void> {
    const { name, concurrency, log } = this.#options;
    let synced: boolean;
    try {
      synced = await syncedOrAborted(options.waitFor ?? [], signal);
    } catch (error) {
      this.queue.shutdown();
      throw error;
    }
    if (!synced) {
      this.queue.shutdown();
      return;
    }
    log.info("Caches synced; starting workers", { controller: name, workers: concurrency });
    options.onStarted?.();
    await this.queue.run((key, workerSignal) => this.#reconcileHandler(key, workerSignal), concurrency, signal);
  }

  /** Never rejects (see the header): every reconcile error ends here. */
  async #reconcileHandler(key: string, signal: AbortSignal): Promise<void> {
    const started = this.#clock.now();
    const seconds = (): number => (this.#clock.now() - started) / 1000;
    let result: ReconcileResult;
    try {
      result = await this.#options.reconcile(key, signal);
    } catch (error) {
      this.#metrics.observe("error", seconds());
      if (signal.aborted || this.queue.isShuttingDown) return;
      this.#options.log.warn("Reconcile failed; retrying with backoff", {
        controller: this.#options.name,
        [this.#options.keyLogField ?? "key"]: key,
        error,
      });
      this.queue.addRateLimited(key);
      return;
    }
    const outcome = outcomeOf(result);
    this.#metrics.observe(outcome, seconds());
    this.queue.forget(key);
    if (outcome === "requeue_after") this.queue.addAfter(key, result.requeueAfterMs ?? 0);
  }
}

/** True once all of `waitFor` resolved, false if `signal` aborted first; rejects with the first rejection. */
function syncedOrAborted(waitFor: readonly Promise<unknown>[], signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.all(waitFor).then(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve(!signal.aborted);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
