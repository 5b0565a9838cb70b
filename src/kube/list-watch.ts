/**
 * List and watch functions for `runtime/informer.ts`, over the real API server.
 *
 * - List: raw JSON GETs (kube/request.ts) paged with `limit`/`continue`, so list items and watch
 *   events have the same plain-JSON shape. An expired continue token fails the list; the informer
 *   backs off and lists again from scratch.
 * - Watch: a streaming GET with `watch=true` (kube/request.ts), one JSON event per line. A watch
 *   silent for WATCH_IDLE_TIMEOUT_MS ends as a clean close, as do server-side closes: the
 *   informer resumes from the last resourceVersion (a dead connection costs at most that long).
 *   A non-2xx answer rejects with its KubeApiError; an in-stream `ERROR` event rejects with its
 *   `Status` (410 Expired → relist).
 * - Scope: `namespace` restricts to one namespace (omit for all namespaces); `labelSelector` and
 *   `fieldSelector` apply to both list and watch.
 * - Listed and watched objects arrive without `metadata.managedFields` (controller-runtime's
 *   TransformStripManagedFields): nothing here reads them, and they are often the largest part of
 *   an object (one entry per field manager: the controller, each gateway replica, kubectl), so
 *   every cache holding them paid for them (issue #15: controller memory at 1,000 PortForwards).
 * - An optional `transform` (controller-runtime's cache TransformFunc) cuts each object down
 *   before anything keeps it: list items page by page as each page arrives, so the full objects of
 *   one page at most are alive at once instead of those of the whole list, and every watched
 *   object but BOOKMARKs (which carry only a resourceVersion). It gets the object as the informer
 *   would (apiVersion/kind set, managedFields gone) and may return it or a new one; an informer
 *   given transformed list and watch functions stores only the result (the gateway's peer cache
 *   holds 1,000 pods in a tenth of their size, gateway/peer-cache.ts).
 */
import type { IncomingMessage } from "node:http";
import type { ListFn, ListResult, WatchEventType, WatchFn } from "../runtime/informer.ts";
import type { KubeObject } from "../runtime/store.ts";
import type { KubeConnection } from "./connection.ts";
import { apiError, kubeRequest, openKubeRequest, resourcePath, responseText } from "./request.ts";

export interface ListWatchScope {
  /** `v1` or `group/version`. */
  apiVersion: string;
  plural: string;
  /** Set on listed items, which the API returns without apiVersion/kind. */
  kind?: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size of the initial list; default 500, or TRANSFORMED_PAGE_SIZE with a transform. */
  pageSize?: number;
}

/** How long a watch may stay silent before it is ended and resumed (client-node's Watch: 30 s). */
export const WATCH_IDLE_TIMEOUT_MS = 30_000;

/** client-go's page size, for lists kept whole. */
const DEFAULT_PAGE_SIZE = 500;

/**
 * The page size of a list with a transform. The full objects of one page are alive until the
 * transform has cut them down, so the page decides the list's high-water mark: 500 KWOK pods are
 * ~1.5 MB of JSON and some 4 MB of parsed objects, enough to grow V8's young generation and keep
 * the response buffers until the next collection, and an idle gateway keeps that RSS. At 100 its
 * RSS with 1,000 pods in the cluster fell by ~10 MiB (docs/benchmarks.md, "Lean processes"), for
 * 10 list requests instead of 2 per 1,000 objects, on a list made once per start or relist.
 */
export const TRANSFORMED_PAGE_SIZE = 100;

/** Cuts a listed or watched object down to what a cache keeps (see the header). */
export type ObjectTransform<Full extends KubeObject, Kept extends KubeObject> = (object: Full) => Kept;

/** One page of a list response, as the API server sends it. */
export interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/**
 * Pure: the items of one list page as an informer caches them: apiVersion/kind restored (list
 * items omit them), managedFields dropped, then `transform`, appended to `into`.
 */
export function appendPageItems<Full extends KubeObject, Kept extends KubeObject>(
  into: Kept[],
  page: ListPage<Full>,
  scope: Pick<ListWatchScope, "apiVersion" | "kind">,
  transform: ObjectTransform<Full, Kept>,
): void {
  for (const item of page.items ?? [])
    into.push(transform(withoutManagedFields({ apiVersion: scope.apiVersion, kind: scope.kind, ...item })));
}

function identity<T extends KubeObject, U extends KubeObject>(object: T): U {
  return object as unknown as U;
}

export function kubeList<T extends KubeObject, Kept extends KubeObject = T>(
  kubeConfig: KubeConnection,
  scope: ListWatchScope,
  transform?: ObjectTransform<T, Kept>,
): ListFn<Kept> {
  const keep = transform ?? identity<T, Kept>;
  const pageSize = scope.pageSize ?? (transform === undefined ? DEFAULT_PAGE_SIZE : TRANSFORMED_PAGE_SIZE);
  const path = resourcePath({ apiVersion: scope.apiVersion, plural: scope.plural, namespace: scope.namespace });
  return async (signal) => {
    const items: Kept[] = [];
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      const page = (await kubeRequest(kubeConfig, {
        method: "GET",
        path,
        query: {
          labelSelector: scope.labelSelector,
          fieldSelector: scope.fieldSelector,
          limit: pageSize,
          continue: continueToken,
        },
        signal,
      })) as ListPage<T>;
      appendPageItems(items, page, scope, keep);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    const result: ListResult<Kept> = { items, resourceVersion };
    return result;
  };
}

export function kubeWatch<T extends KubeObject, Kept extends KubeObject = T>(
  kubeConfig: KubeConnection,
  scope: ListWatchScope,
  transform: ObjectTransform<T, Kept> = identity,
): WatchFn<Kept> {
  const path = resourcePath({ apiVersion: scope.apiVersion, plural: scope.plural, namespace: scope.namespace });
  return async (query, onEvent, signal) => {
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await openKubeRequest(kubeConfig, {
        method: "GET",
        path,
        query: { ...query, watch: true, labelSelector: scope.labelSelector, fieldSelector: scope.fieldSelector },
        signal: abort.signal,
        idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS,
      });
      const statusCode = response.statusCode ?? 0;
      if (statusCode !== 200) throw apiError("GET", path, statusCode, await responseText(response));
      await readEvents(response, (type, object) => {
        if (type === "ERROR") throw new WatchErrorEvent(object);
        if (type === "BOOKMARK") onEvent(type, object as unknown as Kept);
        else if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          onEvent(type as WatchEventType, transform(withoutManagedFields(object as T)));
        }
      });
    } catch (error) {
      if (error instanceof WatchErrorEvent) throw error.status;
      if (!isCleanClose(error, signal)) throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      abort.abort();
    }
  };
}

/** Carries an in-stream `ERROR` event's Status out of the line reader. */
class WatchErrorEvent extends Error {
  readonly status: unknown;
  constructor(status: unknown) {
    super("watch ERROR event");
    this.status = status;
  }
}

/**
 * Calls `onEvent` for each line of a watch stream (`{"type": ..., "object": ...}`), in order,
 * until the stream ends. A line may arrive in any number of pieces; a throw from `onEvent` ends
 * the stream and rejects.
 */
async function readEvents(response: IncomingMessage, onEvent: (type: string, object: unknown) => void): Promise<void> {
  response.setEncoding("utf8");
  let pending = "";
  for await (const chunk of response) {
    pending += chunk as string;
    // Lines are cut out by position and the rest kept once per chunk: slicing the remainder
    // after every line would copy a burst of events in one chunk once per event.
    let start = 0;
    for (let newline = pending.indexOf("\n"); newline !== -1; newline = pending.indexOf("\n", start)) {
      const line = pending.slice(start, newline);
      start = newline + 1;
      if (line.trim() !== "") {
        const event = JSON.parse(line) as { type: string; object: unknown };
        onEvent(event.type, event.object);
      }
    }
    pending = pending.slice(start);
  }
}

/** `object` with its `metadata.managedFields` removed (in place: it was just parsed, and is ours). */
export function withoutManagedFields<T extends KubeObject>(object: T): T {
  const metadata = object.metadata as { managedFields?: unknown } | undefined;
  if (metadata?.managedFields !== undefined) delete metadata.managedFields;
  return object;
}

/** Ends that resume from the last resourceVersion at once: our own abort, a silent watch. */
function isCleanClose(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  const name = (error as { name?: unknown }).name;
  return name === "TimeoutError" || name === "AbortError";
}

/** Both halves for an informer, each with `transform` (default: objects as they arrive). */
export function kubeListWatch<T extends KubeObject, Kept extends KubeObject = T>(
  kubeConfig: KubeConnection,
  scope: ListWatchScope,
  transform?: ObjectTransform<T, Kept>,
): { list: ListFn<Kept>; watch: WatchFn<Kept> } {
  return { list: kubeList(kubeConfig, scope, transform), watch: kubeWatch(kubeConfig, scope, transform ?? identity<T, Kept>) };
}
