/**
 * Requests the API server served, from its own `apiserver_request_total` counter (read through
 * `GET /metrics`). The counter has no user or user-agent label, so a difference between two
 * scrapes counts every client; it is broken down by verb, resource and subresource so the
 * requests of one client can be told apart by what they touch.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext } from "@kubernetes/client-node";

export type RequestCounts = Map<string, number>;

/** Scrapes the API server's request counter: "VERB resource[/subresource]" → count. */
export async function scrapeRequestCounts(kubeConfig: KubeConfig): Promise<RequestCounts> {
  return requestCountsIn(await scrapeApiServerMetrics(kubeConfig));
}

/** The API server's whole /metrics text (one scrape serves several readings). */
export function scrapeApiServerMetrics(kubeConfig: KubeConfig): Promise<string> {
  return getApiServerText(kubeConfig, "/metrics");
}

/** The request counter of a /metrics text: "VERB resource[/subresource]" → count. */
export function requestCountsIn(text: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** after − before, without zero rows, largest first. */
export function diffCounts(before: RequestCounts, after: RequestCounts): [string, number][] {
  const rows: [string, number][] = [];
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) rows.push([key, delta]);
  }
  return rows.sort((a, b) => b[1] - a[1]);
}

/** GET `path` of the API server with the kubeconfig's credentials; the body as text (200 only). */
export async function getApiServerText(kubeConfig: KubeConfig, path: string): Promise<string> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error("The kubeconfig has no current cluster");
  const context = new RequestContext(cluster.server.replace(/\/+$/, "") + path, HttpMethod.GET);
  await kubeConfig.applySecurityAuthentication(context);
  const response = await new IsomorphicFetchHttpLibrary().send(context).toPromise();
  const body = await response.body.text();
  if (response.httpStatusCode !== 200) throw new Error(`GET ${path}: ${response.httpStatusCode} ${body.slice(0, 200)}`);
  return body;
}
