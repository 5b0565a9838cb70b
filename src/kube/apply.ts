/**
 * Server-side apply (SSA) behind two functions, after cert-manager's `Apply`/`ApplyStatus`.
 *
 * Both send `PATCH` with `Content-Type: application/apply-patch+yaml` (a JSON body is valid YAML),
 * `fieldManager=<manager>`, `fieldValidation=Ignore` and `force=true` by default (we own the fields we state; see
 * "Using Server-Side Apply in a controller" in the Kubernetes docs).
 *
 * What is sent:
 * - `applyObject`: the object as given, minus `status`, `metadata.managedFields`,
 *   `metadata.resourceVersion`, `metadata.uid`, `metadata.creationTimestamp`, `metadata.generation`.
 *   State the *full* intent: fields this manager applied before and omits now are removed.
 * - `applyStatus`: only `apiVersion`, `kind`, `metadata.{name,namespace}` and `status`, to the
 *   `/status` subresource. Spec is never applied from here.
 *
 * Implemented as a raw request (kube/request.ts) rather than the generated clients: their patch
 * methods pick `application/json-patch+json` unless a header middleware overrides it, and they
 * drop fields unknown to their model classes, which would silently shrink a custom resource.
 */
import type { KubeConnection } from "./connection.ts";
import { kubeRequest, resourcePath } from "./request.ts";

export const APPLY_PATCH_CONTENT_TYPE = "application/apply-patch+yaml";

/** The identity every applied object must carry. */
export interface ApplyTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ApplyOptions {
  /** Lower-case plural resource name, e.g. `services`. */
  plural: string;
  fieldManager: string;
  /** Take ownership of conflicting fields; default true. */
  force?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
}

const SERVER_OWNED_METADATA = ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"];

/** The body `applyObject` sends for `object` (exported for tests). */
export function applyBody(object: ApplyTarget): ApplyTarget {
  const { status: _status, ...rest } = object;
  const metadata: Record<string, unknown> = { ...object.metadata };
  for (const key of SERVER_OWNED_METADATA) delete metadata[key];
  return { ...rest, metadata: metadata as ApplyTarget["metadata"] };
}

/** The body `applyStatus` sends for `object` (exported for tests). */
export function applyStatusBody(object: ApplyTarget & { status: unknown }): ApplyTarget {
  const metadata: ApplyTarget["metadata"] = { name: object.metadata.name };
  if (object.metadata.namespace !== undefined) metadata.namespace = object.metadata.namespace;
  return { apiVersion: object.apiVersion, kind: object.kind, metadata, status: object.status };
}

/** Server-side applies `object` and returns the object as stored. */
export async function applyObject<T>(kubeConfig: KubeConnection, object: ApplyTarget, options: ApplyOptions): Promise<T> {
  return (await sendApply(kubeConfig, object, applyBody(object), undefined, options)) as T;
}

/** Server-side applies `object.status` to the `/status` subresource and returns the stored object. */
export async function applyStatus<T>(
  kubeConfig: KubeConnection,
  object: ApplyTarget & { status: unknown },
  options: ApplyOptions,
): Promise<T> {
  return (await sendApply(kubeConfig, object, applyStatusBody(object), "status", options)) as T;
}

function sendApply(
  kubeConfig: KubeConnection,
  object: ApplyTarget,
  body: ApplyTarget,
  subresource: string | undefined,
  options: ApplyOptions,
): Promise<unknown> {
  const path = resourcePath({
    apiVersion: object.apiVersion,
    plural: options.plural,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
    subresource,
  });
  return kubeRequest(kubeConfig, {
    method: "PATCH",
    path,
    query: {
      fieldManager: options.fieldManager,
      force: options.force ?? true,
      // Every applied object is built here from typed code; nothing reads the Warning headers the
      // default (Warn) would send for an unknown field, and finding them is a second, strict
      // parse of each body: ~2 % of the API server's CPU in a burst of new PortForwards
      // (docs/benchmarks.md, apiserver profile). Unknown fields are dropped either way.
      fieldValidation: "Ignore",
      dryRun: options.dryRun ? "All" : undefined,
    },
    body,
    contentType: APPLY_PATCH_CONTENT_TYPE,
    signal: options.signal,
  });
}
