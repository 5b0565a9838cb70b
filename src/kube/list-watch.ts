/**
 * List and watch functions for `runtime/informer.ts`, over the real API server.
 *
 * - List: raw JSON GETs (kube/request.ts) paged with `limit`/`continue`, so list items and watch
 *   events have the same plain-JSON shape. An expired continue token fails the list; the informer
 *   backs off and lists again from scratch.
 * - Watch: client-node's `Watch` (auth, TLS, proxies). Its own 30 s inactivity timer ends quiet
 *   watches with a `TimeoutError`; that counts as a clean close (the informer resumes from the
 *   last resourceVersion), as do server-side closes. An in-stream `ERROR` event rejects with its
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
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import type { ListFn, ListResult, WatchEventType, WatchFn } from "../runtime/informer.ts";
import type { KubeObject } from "../runtime/store.ts";
import { kubeRequest, resourcePath } from "./request.ts";

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
  kubeConfig: KubeConfig,
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
  kubeConfig: KubeConfig,
  scope: ListWatchScope,
  transform: ObjectTransform<T, Kept> = identity,
): WatchFn<Kept> {
  const watch = new Watch(kubeConfig);
  const path = resourcePath({ apiVersion: scope.apiVersion, plural: scope.plural, namespace: scope.namespace });
  return (query, onEvent, signal) =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        if (error === undefined || error === null || isCleanClose(error, signal)) resolve();
        else reject(error);
      };
      const onAbort = (): void => finish();
      signal.addEventListener("abort", onAbort, { once: true });
      watch
        .watch(
          path,
          {
            ...query,
            labelSelector: scope.labelSelector,
            fieldSelector: scope.fieldSelector,
          },
          (type: string, object: T) => {
            if (settled) return;
            if (type === "ERROR") {
              finish(object);
              return;
            }
            if (type === "BOOKMARK") onEvent(type, object as unknown as Kept);
            else if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
              onEvent(type as WatchEventType, transform(withoutManagedFields(object)));
            }
          },
          (error: unknown) => finish(error),
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        }, finish);
    });
}

/** `object` with its `metadata.managedFields` removed (in place: it was just parsed, and is ours). */
export function withoutManagedFields<T extends KubeObject>(object: T): T {
  const metadata = object.metadata as { managedFields?: unknown } | undefined;
  if (metadata?.managedFields !== undefined) delete metadata.managedFields;
  return object;
}

function isCleanClose(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  const name = (error as { name?: unknown }).name;
  return name === "TimeoutError" || name === "AbortError";
}

/** Both halves for an informer, each with `transform` (default: objects as they arrive). */
export function kubeListWatch<T extends KubeObject, Kept extends KubeObject = T>(
  kubeConfig: KubeConfig,
  scope: ListWatchScope,
  transform?: ObjectTransform<T, Kept>,
): { list: ListFn<Kept>; watch: WatchFn<Kept> } {
  return { list: kubeList(kubeConfig, scope, transform), watch: kubeWatch(kubeConfig, scope, transform ?? identity<T, Kept>) };
}
