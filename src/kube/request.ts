/**
 * A raw JSON request to the API server over node:http(s), with the TLS, credentials and agent of
 * a `KubeConnection` (kube/connection.ts).
 *
 * Why raw JSON and not generated clients: those deserialize into model classes (dates become
 * `Date`, unknown fields are dropped), while watch events arrive as raw JSON. Lists for informers
 * and server-side apply bodies must round-trip exactly, so everything goes through here.
 *
 * Failures: a non-2xx answer throws `KubeApiError` (`code` = HTTP status, `body` = the parsed
 * `Status` when JSON), which `kube/errors.ts` classifies; a request without an answer throws the
 * socket's error, which counts as transient. A connection silent for REQUEST_IDLE_TIMEOUT_MS
 * (or the caller's `idleTimeoutMs`) fails the request, or the reading of its body, with a
 * `TimeoutError`.
 */
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { nodeHttp } from "../runtime/node-http.ts";
import type { KubeConnection } from "./connection.ts";
import { KubeConfigError } from "./kubeconfig-error.ts";

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

/** How long a request may wait without a byte from the server (undici's default, used before). */
export const REQUEST_IDLE_TIMEOUT_MS = 300_000;

/** A failed API call: the HTTP status and the response body (a parsed `Status` when JSON). */
export class KubeApiError extends Error {
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, message: string, body: unknown) {
    super(message);
    this.name = "KubeApiError";
    this.code = code;
    this.body = body;
  }
}

/** The URL of `path` on the connection's server, keeping any path prefix of the server URL. */
export function apiUrl(server: string, path: string, query: KubeRequest["query"] = {}): URL {
  const url = new URL(server.replace(/\/+$/, "") + path);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

/** How node:http(s) reaches `url`: the function that sends (TLS for https: and wss:) and the address fields of its options. */
export function requestEndpoint(url: URL): {
  readonly secure: boolean;
  readonly send: (options: RequestOptions) => ClientRequest;
  readonly address: Pick<RequestOptions, "protocol" | "hostname" | "port" | "path">;
} {
  const secure = url.protocol === "https:" || url.protocol === "wss:";
  return {
    secure,
    send: secure ? httpsRequest : nodeHttp.request,
    address: {
      protocol: secure ? "https:" : "http:",
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
    },
  };
}

/**
 * Sends one request and resolves with the response as soon as its headers arrive (the body is
 * the caller's to read). Rejects with the connection's error when there is no answer.
 */
export async function openKubeRequest(
  connection: KubeConnection,
  request: Omit<KubeRequest, "body"> & { body?: string; idleTimeoutMs?: number },
): Promise<IncomingMessage> {
  const cluster = connection.getCurrentCluster();
  if (cluster === null) throw new Error("The kubeconfig has no current cluster");
  const url = apiUrl(cluster.server, request.path, request.query);
  const options: RequestOptions = {};
  try {
    await connection.applyToHTTPSOptions(options);
  } catch (cause) {
    throw credentialsError(cause);
  }
  request.signal?.throwIfAborted();
  const headers: OutgoingHttpHeaders = { ...(options.headers as OutgoingHttpHeaders | undefined), Accept: "application/json" };
  if (request.body !== undefined) {
    headers["Content-Type"] = request.contentType ?? "application/json";
    headers["Content-Length"] = Buffer.byteLength(request.body);
  }
  const { send, address } = requestEndpoint(url);
  const idleTimeoutMs = request.idleTimeoutMs ?? REQUEST_IDLE_TIMEOUT_MS;
  return await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = send({
      ...options,
      ...address,
      method: request.method,
      headers,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    let response: IncomingMessage | undefined;
    outgoing.setTimeout(idleTimeoutMs, () => {
      const error = new Error(`${request.method} ${request.path}: nothing from the server for ${idleTimeoutMs} ms`);
      error.name = "TimeoutError";
      // After the headers, the body's reader is the one to learn why it ends.
      response?.destroy(error);
      outgoing.destroy(error);
    });
    outgoing.on("response", (incoming: IncomingMessage) => {
      response = incoming;
      resolve(incoming);
    });
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}

/**
 * The kubeconfig could not give credentials for a request (a token file that cannot be read, an
 * exec plugin that fails): a KubeConfigError, whose message names the cause even when the plugin
 * said nothing (client-node's exec auth throws its stderr, which may be empty).
 */
function credentialsError(cause: unknown): KubeConfigError {
  if (cause instanceof KubeConfigError) return cause;
  const said = cause instanceof Error ? cause.message.trim() : String(cause);
  return new KubeConfigError(
    `Could not get credentials from the kubeconfig's user (${said === "" ? "its credential plugin failed without a message" : said})`,
    { cause },
  );
}

/** The whole body of `response`, as text. */
export async function responseText(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response) text += chunk as string;
  return text;
}

/** The failure a non-2xx answer stands for, its `Status` message in the error's. */
export function apiError(method: string, path: string, statusCode: number, text: string): KubeApiError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (HTML from a proxy, plain text): the text is the body.
  }
  const message = typeof body === "object" && body !== null && "message" in body ? String(body.message) : text;
  return new KubeApiError(statusCode, `${method} ${path}: ${message}`, body);
}

/** Sends `request` and returns the parsed JSON response (undefined for an empty body). */
export async function kubeRequest(connection: KubeConnection, request: KubeRequest): Promise<unknown> {
  const response = await openKubeRequest(connection, {
    ...request,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const text = await responseText(response);
  const statusCode = response.statusCode ?? 0;
  if (statusCode < 200 || statusCode >= 300) throw apiError(request.method, request.path, statusCode, text);
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Error(`${request.method} ${request.path} returned a body that is not JSON`, { cause });
  }
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
