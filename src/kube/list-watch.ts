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
  /** Page size of the initial list; default 500. */
  pageSize?: number;
}

interface ListBody<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export function kubeList<T extends KubeObject>(kubeConfig: KubeConfig, scope: ListWatchScope): ListFn<T> {
  const path = resourcePath({ apiVersion: scope.apiVersion, plural: scope.plural, namespace: scope.namespace });
  return async (signal) => {
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      const body = (await kubeRequest(kubeConfig, {
        method: "GET",
        path,
        query: {
          labelSelector: scope.labelSelector,
          fieldSelector: scope.fieldSelector,
          limit: scope.pageSize ?? 500,
          continue: continueToken,
        },
        signal,
      })) as ListBody<T>;
      // List items omit apiVersion/kind; restore them so list and watch objects look alike.
      for (const item of body.items ?? []) items.push(withoutManagedFields({ apiVersion: scope.apiVersion, kind: scope.kind, ...item }));
      resourceVersion = body.metadata?.resourceVersion ?? resourceVersion;
      continueToken = body.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    const result: ListResult<T> = { items, resourceVersion };
    return result;
  };
}

export function kubeWatch<T extends KubeObject>(kubeConfig: KubeConfig, scope: ListWatchScope): WatchFn<T> {
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
            if (type === "ADDED" || type === "MODIFIED" || type === "DELETED" || type === "BOOKMARK") {
              onEvent(type as WatchEventType, withoutManagedFields(object));
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

/** Both halves for an informer. */
export function kubeListWatch<T extends KubeObject>(kubeConfig: KubeConfig, scope: ListWatchScope): { list: ListFn<T>; watch: WatchFn<T> } {
  return { list: kubeList<T>(kubeConfig, scope), watch: kubeWatch<T>(kubeConfig, scope) };
}
