/**
 * A raw JSON request to the API server through @kubernetes/client-node's own auth and transport
 * (`KubeConfig.applySecurityAuthentication` + `IsomorphicFetchHttpLibrary`, i.e. the same undici
 * dispatcher, TLS and credentials as the generated clients and `Watch`).
 *
 * Why not the generated clients: they deserialize into model classes (dates become `Date`,
 * unknown fields are dropped), while watch events arrive as raw JSON. Lists for informers and
 * server-side apply bodies must round-trip exactly, so both go through here.
 *
 * Failures throw `ApiException` (code = HTTP status, body = the parsed `Status` when JSON) so
 * `kube/errors.ts` classifies them like any other client-node error.
 */
import {
  ApiException,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  RequestContext,
} from "@kubernetes/client-node";

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. `/api/v1/namespaces/default/services`. */
  path: string;
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Serialised as JSON. */
  body?: unknown;
  /** Default `application/json` when there is a body. */
  contentType?: string;
  signal?: AbortSignal;
}

const http = new IsomorphicFetchHttpLibrary();

/** Sends `request` and returns the parsed JSON response (undefined for an empty body). */
export async function kubeRequest(kubeConfig: KubeConfig, request: KubeRequest): Promise<unknown> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error("The kubeconfig has no current cluster");
  const url = new URL(cluster.server.replace(/\/+$/, "") + request.path);
  for (const [k, v] of Object.entries(request.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const context = new RequestContext(url.toString(), HttpMethod[request.method]);
  context.setHeaderParam("Accept", "application/json");
  if (request.body !== undefined) {
    context.setHeaderParam("Content-Type", request.contentType ?? "application/json");
    context.setBody(JSON.stringify(request.body));
  }
  if (request.signal !== undefined) context.setSignal(request.signal);
  await kubeConfig.applySecurityAuthentication(context);
  const response = await http.send(context).toPromise();
  const text = await response.body.text();
  let parsed: unknown;
  if (text.length > 0) {
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      if (response.httpStatusCode >= 200 && response.httpStatusCode < 300) {
        throw new Error(`${request.method} ${request.path} returned a body that is not JSON`, { cause });
      }
      parsed = text;
    }
  }
  if (response.httpStatusCode < 200 || response.httpStatusCode >= 300) {
    const message = typeof parsed === "object" && parsed !== null && "message" in parsed ? String(parsed.message) : text;
    throw new ApiException(response.httpStatusCode, `${request.method} ${request.path}: ${message}`, parsed, {});
  }
  return parsed;
}

export interface ResourcePathOptions {
  /** `v1` for the core group, otherwise `group/version`. */
  apiVersion: string;
  /** Lower-case plural resource name, e.g. `services`, `portforwards`. */
  plural: string;
  /** Omit for cluster-scoped resources or to address all namespaces. */
  namespace?: string;
  name?: string;
  /** e.g. `status`. */
  subresource?: string;
}

/** Builds `/api/v1/...` or `/apis/<group>/<version>/...` with URL-encoded segments. */
export function resourcePath(options: ResourcePathOptions): string {
  const parts = [options.apiVersion.includes("/") ? `/apis/${options.apiVersion}` : `/api/${options.apiVersion}`];
  if (options.namespace !== undefined) parts.push("namespaces", encodeURIComponent(options.namespace));
  parts.push(options.plural);
  if (options.name !== undefined) parts.push(encodeURIComponent(options.name));
  if (options.subresource !== undefined) {
    if (options.name === undefined) throw new RangeError("A subresource needs a name");
    parts.push(options.subresource);
  }
  return parts.join("/");
}
