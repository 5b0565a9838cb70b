/**
 * What every API call of ours needs from a kubeconfig: the server's address, and the TLS material,
 * headers and connection agent of one request. Requests (kube/request.ts), watches
 * (kube/list-watch.ts) and tunnel dials (tunnel/websocket-dialer.ts) take a `KubeConnection`
 * and send over node:http(s) themselves.
 *
 * Two implementations, chosen by kube/client.ts for each kubeconfig:
 *  - `StaticKubeConfig` (kube/static-kubeconfig.ts): in-cluster service accounts and kubeconfigs
 *    whose credentials are certificates and tokens. This is how the controller and the gateway
 *    run, so they never load @kubernetes/client-node, which costs about 37 MiB of RSS on import
 *    (docs/benchmarks.md, "Lean processes").
 *  - @kubernetes/client-node's `KubeConfig`, for kubeconfigs that need its plugins (exec,
 *    auth-provider, proxies, basic auth): the two members below are its own, so it fits as is.
 *    Tests hand it in too.
 *
 * Contract of `applyToHTTPSOptions`: it may be called for every request, so it is cheap once
 * credentials are loaded. It sets `ca`/`cert`/`key`, `servername` and `rejectUnauthorized` as the
 * kubeconfig says, `headers.Authorization` when the user has a token (re-read when it rotates),
 * and an `agent` that callers must use, so connections are shared. It rejects when credentials
 * cannot be obtained (an unreadable token file, a failing exec plugin).
 */
import type { RequestOptions } from "node:https";

export interface KubeConnection {
  /** The current cluster; `server` is its base URL, which may carry a path prefix. */
  getCurrentCluster(): { readonly server: string } | null;
  /** Fills TLS material, the Authorization header and the agent of one request into `options`. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}
