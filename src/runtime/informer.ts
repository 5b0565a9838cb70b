/**
 * A list/watch informer as an explicit state machine (kube-rs `watcher`), feeding a `Store` and
 * telling handlers which KEY changed.
 *
 * ```
 *   empty ──start──▶ listing ──listed(rv)──▶ watching(rv) ──closed(rv')──▶ watching(rv')
 *                     ▲  │                     │   │
 *                     │  └─listFailed─▶ backoff(listing)
 *                     │                        │   └─failed─▶ backoff(watching rv) ──elapsed──▶ watching(rv)
 *                     └──────── 410 Gone / Expired ◀┘
 *   any ──stop──▶ stopped
 * ```
 *
 * `nextState(state, event)` is the whole decision and is pure; `Informer` only performs the I/O
 * each state asks for. Contract:
 * - Watches request `allowWatchBookmarks=true` and a `timeoutSeconds` drawn from 240–290 s each
 *   time, below the API server's 295 s cap-with-jitter so the client, not a proxy, ends them
 *   (kube-rs watcher.rs explains the same choice). A watch that ends cleanly (server timeout,
 *   client inactivity timeout) resumes from the last resourceVersion seen, without backoff.
 * - A 410 Gone / `Expired` status (HTTP or in-stream `ERROR`) relists at once.
 * - Other list or watch failures back off (exponential, full jitter, 0.8 s → 30 s, reset after
 *   2 min without failures) and then retry the same step.
 * - After every list, objects not in the list are removed from the store and reported as deleted
 *   (events missed while disconnected are recovered as state, never replayed).
 * - Handlers get `{ key, old, new }` after the store changed; `new` is undefined for deletions.
 *   They must be quick and must not throw (they typically map to keys and call `queue.add`).
 *   A throwing handler is a bug: the informer stops and `start` rejects with the error.
 */
import { Backoff } from "./backoff.ts";
import { type Clock, sleep, systemClock } from "./clock.ts";
import { type IndexFunc, type KubeObject, objectKey, Store, type StoreReader } from "./store.ts";

// ---------------------------------------------------------------------------------------------
// Pure state machine

export type InformerState =
  | { readonly phase: "empty" }
  | { readonly phase: "listing" }
  | { readonly phase: "watching"; readonly resourceVersion: string }
  | { readonly phase: "backoff"; readonly retry: "listing" }
  | { readonly phase: "backoff"; readonly retry: "watching"; readonly resourceVersion: string }
  | { readonly phase: "stopped" };

export type InformerEvent =
  | { readonly type: "start" }
  | { readonly type: "listed"; readonly resourceVersion: string }
  | { readonly type: "listFailed"; readonly error: unknown }
  /** The watch ended; `error` undefined for a clean close. `resourceVersion` is the last one seen. */
  | { readonly type: "watchEnded"; readonly resourceVersion: string; readonly error?: unknown }
  | { readonly type: "backoffElapsed" }
  | { readonly type: "stop" };

/** Classifies a watch failure; injected so the state machine stays free of client types. */
export interface WatchErrorClassifier {
  /** 410 Gone / reason Expired: the resourceVersion is no longer served. */
  isGone(error: unknown): boolean;
}

export function nextState(state: InformerState, event: InformerEvent, errors: WatchErrorClassifier): InformerState {
  if (event.type === "stop" || state.phase === "stopped") return { phase: "stopped" };
  switch (state.phase) {
    case "empty":
      return event.type === "start" ? { phase: "listing" } : state;
    case "listing":
      if (event.type === "listed") return { phase: "watching", resourceVersion: event.resourceVersion };
      if (event.type === "listFailed") return { phase: "backoff", retry: "listing" };
      return state;
    case "watching":
      if (event.type !== "watchEnded") return state;
      if (event.error === undefined) return { phase: "watching", resourceVersion: event.resourceVersion };
      if (errors.isGone(event.error)) return { phase: "listing" };
      return { phase: "backoff", retry: "watching", resourceVersion: event.resourceVersion };
    case "backoff":
      if (event.type !== "backoffElapsed") return state;
      return state.retry === "listing" ? { phase: "listing" } : { phase: "watching", resourceVersion: state.resourceVersion };
  }
}

// ---------------------------------------------------------------------------------------------
// I/O contracts

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** Lists every object in scope (all pages). */
export type ListFn<T> = (signal: AbortSignal) => Promise<ListResult<T>>;

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchQuery {
  resourceVersion: string;
  allowWatchBookmarks: true;
  timeoutSeconds: number;
}

/**
 * Runs one watch until it ends: resolves on a clean close (including timeouts), rejects on failure
 * (an in-stream `ERROR` event rejects with its `Status`). Stops promptly when `signal` aborts.
 */
export type WatchFn<T> = (query: WatchQuery, onEvent: (type: WatchEventType, object: T) => void, signal: AbortSignal) => Promise<void>;

export interface ObjectChange<T> {
  key: string;
  old: T | undefined;
  new: T | undefined;
}

export type ChangeHandler<T> = (change: ObjectChange<T>) => void;

/** Optional progress reports (for logs); never required for correctness. */
export interface InformerObserver {
  transition?(from: InformerState, to: InformerState): void;
  failed?(phase: "listing" | "watching", error: unknown, retryInMs: number | undefined): void;
}

export interface InformerOptions<T extends KubeObject> {
  /** For logs and errors, e.g. `portforwards`. */
  name: string;
  list: ListFn<T>;
  watch: WatchFn<T>;
  errors: WatchErrorClassifier;
  indexers?: Readonly<Record<string, IndexFunc<T>>>;
  clock?: Clock;
  random?: () => number;
  observer?: InformerObserver;
}

export class InformerHandlerError extends Error {
  readonly code = "PF_ERR_INFORMER_HANDLER";
}

// ---------------------------------------------------------------------------------------------
// Driver

export class Informer<T extends KubeObject> {
  readonly name: string;
  readonly #store: Store<T>;
  readonly #options: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #backoff: Backoff;
  readonly #handlers: ChangeHandler<T>[] = [];
  #state: InformerState = { phase: "empty" };
  #resourceVersion = "";
  #synced = false;
  #resolveSynced!: () => void;
  readonly #syncedPromise: Promise<void>;
  #handlerError: InformerHandlerError | undefined;

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.#options = options;
    this.#store = new Store(options.indexers);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#backoff = new Backoff({
      initialMs: 800,
      maxMs: 30_000,
      jitter: "full",
      resetAfterMs: 120_000,
      clock: this.#clock,
      random: this.#random,
    });
    this.#syncedPromise = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  get store(): StoreReader<T> {
    return this.#store;
  }

  get state(): InformerState {
    return this.#state;
  }

  /** True once the first list has been applied to the store. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has been applied (never rejects; race it with a signal). */
  hasSynced(): Promise<void> {
    return this.#syncedPromise;
  }

  /** Registers a handler; add handlers before `start`, so none misses the initial list. */
  addHandler(handler: ChangeHandler<T>): void {
    this.#handlers.push(handler);
  }

  /** Runs until `signal` aborts. Rejects only if a handler threw. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#state.phase !== "empty") throw new Error(`Informer ${this.name} already started`);
    this.#transition({ type: "start" });
    while (!signal.aborted && !this.#isStopped()) {
      const event = await this.#perform(this.#state, signal);
      if (this.#handlerError !== undefined) {
        this.#transition({ type: "stop" });
        throw this.#handlerError;
      }
      this.#transition(signal.aborted ? { type: "stop" } : event);
    }
    this.#transition({ type: "stop" });
  }

  #isStopped(): boolean {
    return this.#state.phase === "stopped";
  }

  #transition(event: InformerEvent): void {
    const from = this.#state;
    const to = nextState(from, event, this.#options.errors);
    this.#state = to;
    if (from !== to) this.#options.observer?.transition?.(from, to);
  }

  async #perform(state: InformerState, signal: AbortSignal): Promise<InformerEvent> {
    switch (state.phase) {
      case "listing":
        try {
          const result = await this.#options.list(signal);
          this.#applyList(result);
          return { type: "listed", resourceVersion: result.resourceVersion };
        } catch (error) {
          return this.#failed("listing", { type: "listFailed", error }, error, signal);
        }
      case "watching": {
        const watchAbort = new AbortController();
        const onAbort = (): void => watchAbort.abort();
        signal.addEventListener("abort", onAbort, { once: true });
        this.#resourceVersion = state.resourceVersion;
        try {
          const query: WatchQuery = {
            resourceVersion: state.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 240 + Math.floor(this.#random() * 51),
          };
          await this.#options.watch(query, (type, object) => this.#applyWatchEvent(type, object, watchAbort), watchAbort.signal);
          return { type: "watchEnded", resourceVersion: this.#resourceVersion };
        } catch (error) {
          const event: InformerEvent = { type: "watchEnded", resourceVersion: this.#resourceVersion, error };
          if (this.#handlerError !== undefined || this.#options.errors.isGone(error)) {
            this.#options.observer?.failed?.("watching", error, undefined);
            return event;
          }
          return this.#failed("watching", event, error, signal);
        } finally {
          signal.removeEventListener("abort", onAbort);
        }
      }
      case "backoff":
        return { type: "backoffElapsed" };
      default:
        return { type: "stop" };
    }
  }

  /** Reports the failure, waits out the backoff, and returns `event` (which leads via backoff). */
  async #failed(phase: "listing" | "watching", event: InformerEvent, error: unknown, signal: AbortSignal): Promise<InformerEvent> {
    const delay = this.#backoff.next();
    this.#options.observer?.failed?.(phase, error, delay);
    this.#transition(event);
    await sleep(this.#clock, delay, signal);
    return { type: "backoffElapsed" };
  }

  #applyList(result: ListResult<T>): void {
    const seen = new Set<string>();
    for (const object of result.items) {
      const key = objectKey(object);
      seen.add(key);
      const old = this.#store.upsert(object);
      if (old === undefined || old.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        this.#notify({ key, old, new: object });
      }
    }
    for (const key of this.#store.keys()) {
      if (seen.has(key)) continue;
      const old = this.#store.delete(key);
      this.#notify({ key, old, new: undefined });
    }
    this.#resourceVersion = result.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSynced();
    }
  }

  #applyWatchEvent(type: WatchEventType, object: T, watchAbort: AbortController): void {
    if (this.#handlerError !== undefined) return;
    const resourceVersion = object.metadata?.resourceVersion;
    if (type !== "BOOKMARK") {
      const key = objectKey(object);
      if (type === "DELETED") {
        const old = this.#store.delete(key) ?? object;
        this.#notify({ key, old, new: undefined });
      } else {
        const old = this.#store.upsert(object);
        this.#notify({ key, old, new: object });
      }
    }
    if (resourceVersion !== undefined && resourceVersion !== "") this.#resourceVersion = resourceVersion;
    if (this.#handlerError !== undefined) watchAbort.abort();
  }

  #notify(change: ObjectChange<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(change);
      } catch (cause) {
        this.#handlerError ??= new InformerHandlerError(`A change handler of informer ${this.name} threw`, { cause });
      }
    }
  }
}
