/**
 * Starts and stops a set of runnables under one root AbortController (controller-runtime's
 * runnable group).
 *
 * Contract:
 * - `start(signal)` of every runnable gets the same root signal. A runnable's promise may resolve
 *   early (e.g. a server that is now listening) or run until the signal aborts.
 * - Shutdown begins on SIGTERM/SIGINT, on the caller's signal, on `close()`, or when any runnable
 *   rejects (fail fast: one broken part stops the whole process so Kubernetes restarts it).
 * - Shutdown aborts the root signal, waits up to `gracePeriodMs` for every `start` promise to
 *   settle (in-flight reconciles and connections drain), then calls `close()` on every runnable in
 *   reverse order of registration.
 * - `start` resolves after a clean shutdown, and rejects with the first runnable failure, or with
 *   `ShutdownTimeoutError` (`PF_ERR_SHUTDOWN_TIMEOUT`) when the grace period ran out.
 */
import { type Clock, sleep, systemClock } from "./clock.ts";

export interface Runnable {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  close?(): Promise<void> | void;
}

/** Where termination signals come from; `process` in production. */
export interface SignalSource {
  once(event: "SIGTERM" | "SIGINT", listener: () => void): unknown;
  off(event: "SIGTERM" | "SIGINT", listener: () => void): unknown;
}

export interface ManagerObserver {
  stopping?(reason: string): void;
  runnableFailed?(name: string, error: unknown): void;
}

export interface ManagerOptions {
  /** Default 25 s, under Kubernetes' default 30 s terminationGracePeriodSeconds. */
  gracePeriodMs?: number;
  /** Default `process`; pass `null` to install no signal handlers (tests, embedding). */
  signals?: SignalSource | null;
  clock?: Clock;
  observer?: ManagerObserver;
}

export class ShutdownTimeoutError extends Error {
  readonly code = "PF_ERR_SHUTDOWN_TIMEOUT";
}

export class Manager {
  readonly #runnables: Runnable[] = [];
  readonly #gracePeriodMs: number;
  readonly #signals: SignalSource | null;
  readonly #clock: Clock;
  readonly #observer: ManagerObserver;
  #root: AbortController | undefined;
  #done: Promise<void> | undefined;

  constructor(options: ManagerOptions = {}) {
    this.#gracePeriodMs = options.gracePeriodMs ?? 25_000;
    this.#signals = options.signals === undefined ? process : options.signals;
    this.#clock = options.clock ?? systemClock;
    this.#observer = options.observer ?? {};
  }

  add(runnable: Runnable): void {
    if (this.#root !== undefined) throw new Error("Manager already started; add runnables before start");
    this.#runnables.push(runnable);
  }

  start(signal?: AbortSignal): Promise<void> {
    if (this.#done !== undefined) throw new Error("Manager already started");
    const root = new AbortController();
    this.#root = root;
    this.#done = this.#run(root, signal);
    return this.#done;
  }

  /** Begins shutdown (if running) and waits for it to finish. */
  async close(): Promise<void> {
    if (this.#root === undefined || this.#done === undefined) return;
    this.#stop("close() called");
    await this.#done;
  }

  #stop(reason: string): void {
    if (this.#root === undefined || this.#root.signal.aborted) return;
    this.#observer.stopping?.(reason);
    this.#root.abort(new Error(reason));
  }

  async #run(root: AbortController, signal: AbortSignal | undefined): Promise<void> {
    const onSigterm = (): void => this.#stop("SIGTERM received");
    const onSigint = (): void => this.#stop("SIGINT received");
    const onAbort = (): void => this.#stop("Parent signal aborted");
    this.#signals?.once("SIGTERM", onSigterm);
    this.#signals?.once("SIGINT", onSigint);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    let failure: { error: unknown } | undefined;
    const running = this.#runnables.map((runnable) =>
      runnable.start(root.signal).then(
        () => undefined,
        (error: unknown) => {
          this.#observer.runnableFailed?.(runnable.name, error);
          failure ??= { error };
          this.#stop(`Runnable ${runnable.name} failed`);
        },
      ),
    );

    try {
      if (!root.signal.aborted) {
        await new Promise<void>((resolve) => root.signal.addEventListener("abort", () => resolve(), { once: true }));
      }
      const grace = new AbortController();
      const drained = Promise.all(running).then(() => true);
      const timedOut = sleep(this.#clock, this.#gracePeriodMs, grace.signal).then(() => false);
      const inTime = await Promise.race([drained, timedOut]);
      grace.abort();
      for (const runnable of [...this.#runnables].reverse()) {
        try {
          await runnable.close?.();
        } catch (error) {
          this.#observer.runnableFailed?.(runnable.name, error);
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
      if (!inTime) throw new ShutdownTimeoutError(`Runnables did not stop within ${this.#gracePeriodMs} ms`);
    } finally {
      this.#signals?.off("SIGTERM", onSigterm);
      this.#signals?.off("SIGINT", onSigint);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
