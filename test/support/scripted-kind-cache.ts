/**
 * A KindCache (watch/cluster-cache.ts) over one informer whose list and watch the test drives:
 * `start(initial)` lists `initial` and opens the watch, `emit` delivers watch events. Injected
 * I/O, no module mocks; used to check what the cache and its handlers see after each change.
 */
import { Informer, type WatchEventType } from "../../src/runtime/informer.ts";
import { byNamespace, type IndexFunc, type KubeObject } from "../../src/runtime/store.ts";
import { KindCache, NAMESPACE_INDEX } from "../../src/watch/cluster-cache.ts";
import { FakeClock, flush } from "./fake-clock.ts";

export interface ScriptedKindCache<T extends KubeObject> {
  readonly cache: KindCache<T>;
  /** Lists `initial`, waits for the watch to open. */
  start(initial: T[]): Promise<void>;
  emit(type: WatchEventType, object: T): void;
  stop(): Promise<void>;
}

export function scriptedKindCache<T extends KubeObject>(
  name: string,
  indexers: Readonly<Record<string, IndexFunc<T>>> = {},
): ScriptedKindCache<T> {
  let initial: T[] = [];
  let onEvent: ((type: WatchEventType, object: T) => void) | undefined;
  const informer = new Informer<T>({
    name,
    list: async () => ({ items: initial, resourceVersion: "1" }),
    watch: (_query, deliver, signal) =>
      new Promise<void>((resolve) => {
        onEvent = deliver;
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
    errors: { isGone: () => false },
    indexers: { [NAMESPACE_INDEX]: byNamespace, ...indexers },
    clock: new FakeClock(),
  });
  const cache = new KindCache<T>([informer]);
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  return {
    cache,
    async start(objects) {
      initial = objects;
      running = informer.start(controller.signal);
      await informer.hasSynced();
      await flush();
    },
    emit(type, object) {
      if (onEvent === undefined) throw new Error(`the ${name} watch is not open; call start() first`);
      onEvent(type, object);
    },
    async stop() {
      controller.abort();
      await running;
    },
  };
}

/** A KindCache of a kind a test does not watch: empty and synced. */
export function emptyKindCache<T extends KubeObject>(): KindCache<T> {
  return new KindCache<T>([]);
}
