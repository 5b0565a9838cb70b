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
import { ApiException, HttpMethod, IsomorphicFetchHttpLibrary, type KubeConfig, RequestContext } from "@kubernetes/client-node";

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

type Dispatcher = ReturnType<RequestContext["getDispatcher"]>;

/**
 * One connection pool per kubeconfig identity. client-node builds a new undici Agent on every
 * `applySecurityAuthentication`, so without this each request pays a fresh TCP + TLS handshake
 * (a controller reconciling 1,000 PortForwards spent a quarter of its CPU on handshakes).
 * The key is everything that shapes the TLS connection; users whose client certificate comes
 * from an exec plugin are not cached, since the plugin may rotate it.
 */
const pools = new WeakMap<KubeConfig, Map<string, Dispatcher>>();

function poolKey(kubeConfig: KubeConfig): string | undefined {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  if (user?.exec !== undefined || user?.authProvider !== undefined) return undefined;
  return JSON.stringify([
    cluster?.server,
    cluster?.caData,
    cluster?.caFile,
    cluster?.skipTLSVerify,
    cluster?.tlsServerName,
    cluster?.proxyUrl,
    user?.certData,
    user?.certFile,
    user?.keyData,
    user?.keyFile,
  ]);
}

function pooledDispatcher(kubeConfig: KubeConfig, fresh: Dispatcher): Dispatcher {
  const key = poolKey(kubeConfig);
  if (key === undefined || fresh === undefined) return fresh;
  let byKey = pools.get(kubeConfig);
  if (byKey === undefined) {
    byKey = new Map();
    pools.set(kubeConfig, byKey);
  }
  const pooled = byKey.get(key);
  if (pooled !== undefined) return pooled;
  byKey.set(key, fresh);
  return fresh;
}

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
  const dispatcher = pooledDispatcher(kubeConfig, context.getDispatcher());
  if (dispatcher !== undefined) context.setDispatcher(dispatcher);
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
