/**
 * Preloaded into a process under benchmark (`NODE_OPTIONS=--import …/request-probe.ts`, with
 * TK_BENCH_REQUESTS_FILE naming the output): counts the HTTP requests the process sends to the
 * API server, keyed the way the API server's `apiserver_request_total` is ("VERB
 * resource[/subresource]", with LIST, WATCH and APPLY told apart from GET and PATCH), so the
 * benchmark can split the server's counter by component. It also counts answers other than 2xx
 * and 101 by key and status (a 409 conflict, a 429 from max-requests-inflight), the client-side
 * latency per key (request created → response headers: queueing in the client's connection pool
 * plus the server's time, which apiserver_request_duration_seconds has alone), and the
 * connections opened by protocol (undici negotiates HTTP/2 by ALPN unless told not to).
 *
 * Sources: Node's `http.client.request.start` / `http.client.response.finish` diagnostics
 * channels (every request of our own client, src/kube/request.ts, watches and the tunnels'
 * WebSocket upgrades included; latency there is request start → whole response, and is not taken
 * for watches and upgrades, whose responses last as long as they do), and undici's
 * `undici:request:create` / `undici:request:headers` (@kubernetes/client-node's requests, for a
 * kubeconfig that needs its plugins). The counts are
 * cumulative and written (atomically, through a rename) every WRITE_INTERVAL_MS and at exit, so
 * a reader that waits a little longer than the interval sees every request sent before it
 * started waiting.
 */
import { subscribe } from "node:diagnostics_channel";
import { renameSync, writeFileSync } from "node:fs";

const WRITE_INTERVAL_MS = 250;
const APPLY_CONTENT_TYPE = "application/apply-patch+yaml";

/** "VERB resource[/subresource]" of a request, as kube-apiserver labels it; non-resource paths as "VERB /path". */
export function requestKey(method: string, pathWithQuery: string, contentType: string | undefined): string {
  const [path = "", query = ""] = pathWithQuery.split("?", 2);
  const segments = path.split("/").filter((s) => s !== "");
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 2) rest = segments.slice(2);
  else if (segments[0] === "apis" && segments.length >= 3) rest = segments.slice(3);
  else return `${method} ${path}`;
  const namespaced = rest[0] === "namespaces" && rest.length >= 3;
  const [resource = "", name, subresource] = namespaced ? rest.slice(2) : rest;
  let verb = method;
  if (method === "GET" && name === undefined) verb = new URLSearchParams(query).get("watch") === "true" ? "WATCH" : "LIST";
  else if (method === "PATCH" && contentType?.startsWith(APPLY_CONTENT_TYPE)) verb = "APPLY";
  return `${verb} ${resource}${subresource === undefined ? "" : `/${subresource}`}`;
}

const file = process.env.TK_BENCH_REQUESTS_FILE;
if (file !== undefined && file !== "") {
  const sent = new Map<string, number>();
  const answers = new Map<string, number>();
  const keys = new WeakMap<object, { key: string; createdAt: number }>();
  const latency = new Map<string, { count: number; sumMs: number; maxMs: number }>();
  const connections = new Map<string, number>();
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  const timed = (key: string, createdAt: number) => {
    const ms = performance.now() - createdAt;
    const entry = latency.get(key) ?? { count: 0, sumMs: 0, maxMs: 0 };
    entry.count += 1;
    entry.sumMs += ms;
    entry.maxMs = Math.max(entry.maxMs, ms);
    latency.set(key, entry);
  };
  subscribe("undici:request:create", (message) => {
    const { request } = message as { request: { method: string; path: string; contentType: string | null } };
    const key = requestKey(request.method, request.path, request.contentType ?? undefined);
    keys.set(request, { key, createdAt: performance.now() });
    count(sent, key);
  });
  subscribe("undici:request:headers", (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const status = response.statusCode;
    const sentAs = keys.get(request);
    const key = sentAs?.key ?? "?";
    if ((status < 200 || status > 299) && status !== 101) count(answers, `${key} ${status}`);
    if (sentAs !== undefined) timed(key, sentAs.createdAt);
  });
  subscribe("undici:client:connected", (message) => {
    const { socket } = message as { socket: { alpnProtocol?: string | false } };
    count(connections, `undici ${socket.alpnProtocol || "http/1.1"}`);
  });

  subscribe("http.client.request.start", (message) => {
    const { request } = message as { request: { method: string; path: string; getHeader(name: string): unknown } };
    const contentType = request.getHeader("content-type");
    const key = requestKey(request.method, request.path, typeof contentType === "string" ? contentType : undefined);
    const upgrade = request.getHeader("upgrade") !== undefined;
    const sentAs = upgrade ? `CONNECT ${key.slice(key.indexOf(" ") + 1)}` : key;
    count(sent, sentAs);
    keys.set(request, { key: sentAs, createdAt: performance.now() });
    if (upgrade) count(connections, "websocket http/1.1");
  });
  subscribe("http.client.response.finish", (message) => {
    const { request, response } = message as { request: object; response: { statusCode?: number } };
    const sentAs = keys.get(request);
    if (sentAs === undefined) return;
    const status = response.statusCode ?? 0;
    if ((status < 200 || status > 299) && status !== 101) count(answers, `${sentAs.key} ${status}`);
    if (!sentAs.key.startsWith("WATCH ") && !sentAs.key.startsWith("CONNECT ")) timed(sentAs.key, sentAs.createdAt);
  });

  const write = () => {
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({
        sent: Object.fromEntries(sent),
        answers: Object.fromEntries(answers),
        latency: Object.fromEntries(latency),
        connections: Object.fromEntries(connections),
      }),
    );
    renameSync(`${file}.tmp`, file);
  };
  setInterval(write, WRITE_INTERVAL_MS).unref();
  process.on("exit", write);
}
