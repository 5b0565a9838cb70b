/**
 * One remote cluster as seen through one kubeconfig Secret: its credentials, a cache of the kinds
 * its targets resolve through (in one namespace there), and what is wrong with it, if anything.
 *
 * ```
 *   start ──▶ read Secret ──▶ (credentials changed?) ──▶ restart cache ──▶ check access ──▶ sleep ─┐
 *                ▲                                                                                │
 *                └──────────────────────────────── every refreshMs ◀──────────────────────────────┘
 * ```
 *
 * Contract:
 * - The Secret is read with a GET every `refreshMs` (default 30 s; every `retryMs`, default 5 s,
 *   while something is wrong, so a fix is seen quickly), so the operator needs only `get` on
 *   Secrets, and a rotated Secret is in use within one period, without a restart: new credentials
 *   start a new cache, which takes over once listed; tunnels opened from then on use them.
 * - With `checkAccess`, each period also asks the remote API server (SelfSubjectAccessReview) for
 *   every permission in `requiredAccess(kinds)`. An API server keeps a watch open after its token
 *   is revoked, so this check is what notices a revoked token or a removed RoleBinding within a
 *   period; it also names each missing verb. The controller checks; gateways only read.
 * - `problem` is the first of: Secret, access check, cache failure (see remote-health.ts); none and
 *   the cache listed: ready. Every change of problem, credentials or cached objects calls
 *   `onChange`.
 * - Credentials never leave this module except inside `kubeConfig`; logs carry the fingerprint.
 */
import type { KubeConnection } from "../kube/connection.ts";
import { isForbidden, isNotFound } from "../kube/errors.ts";
import { kubeRequest } from "../kube/request.ts";
import type { Logger } from "../observability/log.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";
import type { TargetObservation } from "../targets/resolve-targets.ts";
import { type CacheKind, ClusterCache } from "../watch/cluster-cache.ts";
import {
  forbiddenProblem,
  kubeconfigProblem,
  type RemoteAccess,
  type RemoteProblem,
  type RemoteWhere,
  requestProblem,
  requiredAccess,
} from "./remote-health.ts";
import { kubeConfigFor, parseRemoteKubeconfig, type RemoteCredentials } from "./remote-kubeconfig.ts";
import type { RemoteClusterMetrics } from "./remote-metrics.ts";

export interface SecretRef {
  /** The PortForward's namespace, where the Secret must be. */
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
}

export interface RemoteClusterOptions {
  /** The local cluster, where the Secret is. */
  readonly kubeConfig: KubeConnection;
  readonly secret: SecretRef;
  /** spec.cluster.namespace; default the kubeconfig context's namespace, else the Secret's. */
  readonly namespace?: string;
  readonly kinds: readonly CacheKind[];
  readonly checkAccess: boolean;
  readonly log: Logger;
  readonly onChange: () => void;
  readonly clock?: Clock;
  readonly refreshMs?: number;
  readonly retryMs?: number;
  readonly metrics?: RemoteClusterMetrics;
}

export const DEFAULT_REMOTE_REFRESH_MS = 30_000;
export const DEFAULT_REMOTE_RETRY_MS = 5_000;

interface Connected {
  readonly credentials: RemoteCredentials;
  readonly kubeConfig: KubeConnection;
  readonly namespace: string;
  readonly cache: ClusterCache;
  readonly stop: AbortController;
  watchProblem: RemoteProblem | undefined;
}

export class RemoteCluster {
  readonly #options: RemoteClusterOptions;
  readonly #clock: Clock;
  /** The credentials and cache in use. */
  #connected: Connected | undefined;
  /** Newer credentials whose cache is still listing; it replaces #connected once listed. */
  #pending: Connected | undefined;
  #secretProblem: RemoteProblem | undefined;
  #accessProblem: RemoteProblem | undefined;
  #lastProblem: string | undefined = "unset";
  #wake: (() => void) | undefined;

  constructor(options: RemoteClusterOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The remote API server's address, once a valid kubeconfig was read. */
  get server(): string | undefined {
    return this.#connected?.credentials.server;
  }

  /** Credentials for tunnels and requests to the remote cluster; undefined until read. */
  get kubeConfig(): KubeConnection | undefined {
    return this.#connected?.kubeConfig;
  }

  /** The namespace used in the remote cluster, once known. */
  get namespace(): string | undefined {
    return this.#connected?.namespace;
  }

  /** What is wrong, first problem first; undefined when the cluster is read and listed. */
  get problem(): RemoteProblem | undefined {
    const problem = this.#secretProblem ?? this.#accessProblem ?? (this.#pending ?? this.#connected)?.watchProblem;
    if (problem !== undefined) return problem;
    const connected = this.#connected;
    if (connected === undefined || !connected.cache.synced) {
      return {
        reason: "RemoteConnecting",
        message: `Listing pods in namespace "${connected?.namespace ?? "?"}" of ${connected?.credentials.server ?? "the remote cluster"}.`,
      };
    }
    return undefined;
  }

  /** What target resolution sees of the remote namespace. */
  observation(): TargetObservation {
    const connected = this.#connected;
    const problem = this.problem;
    const remote = { namespace: connected?.namespace ?? this.#options.namespace ?? this.#options.secret.namespace };
    if (problem !== undefined || connected === undefined)
      return { remote, pods: [], ...(problem === undefined ? {} : { unavailable: problem }) };
    return { ...connected.cache.observationFor(connected.namespace), remote };
  }

  /**
   * Reads the Secret again now instead of at the end of the period: a tunnel was refused with
   * these credentials, so they may have been rotated (or revoked) since the last read.
   */
  refreshSoon(): void {
    this.#wake?.();
  }

  /** Runs until `signal` aborts: reads the Secret, keeps the cache, checks access, every period. */
  async run(signal: AbortSignal): Promise<void> {
    const refreshMs = this.#options.refreshMs ?? DEFAULT_REMOTE_REFRESH_MS;
    const retryMs = Math.min(this.#options.retryMs ?? DEFAULT_REMOTE_RETRY_MS, refreshMs);
    try {
      while (!signal.aborted) {
        await this.#refresh(signal);
        this.#changed();
        const failing = this.problem !== undefined && this.problem.reason !== "RemoteConnecting";
        const wake = new AbortController();
        this.#wake = () => wake.abort();
        await sleep(this.#clock, failing ? retryMs : refreshMs, AbortSignal.any([signal, wake.signal]));
        this.#wake = undefined;
      }
    } finally {
      this.#pending?.stop.abort();
      this.#connected?.stop.abort();
      this.#options.metrics?.status(this.#options.secret.namespace, this.#options.secret.name, undefined);
    }
  }

  async #refresh(signal: AbortSignal): Promise<void> {
    const read = await this.#readCredentials(signal);
    if (!read.ok) {
      this.#secretProblem = read.problem;
      return;
    }
    this.#secretProblem = undefined;
    const latest = this.#pending ?? this.#connected;
    if (latest?.credentials.fingerprint !== read.credentials.fingerprint) this.#connect(read.credentials, signal);
    const checked = this.#pending ?? this.#connected;
    if (this.#options.checkAccess && checked !== undefined) this.#accessProblem = await this.#checkAccess(checked, signal);
  }

  async #readCredentials(
    signal: AbortSignal,
  ): Promise<{ ok: true; credentials: RemoteCredentials } | { ok: false; problem: RemoteProblem }> {
    const { kubeConfig, secret } = this.#options;
    const what = `Secret "${secret.name}" in namespace "${secret.namespace}"`;
    let body: unknown;
    try {
      body = await kubeRequest(kubeConfig, {
        method: "GET",
        path: `/api/v1/namespaces/${encodeURIComponent(secret.namespace)}/secrets/${encodeURIComponent(secret.name)}`,
        signal,
      });
    } catch (error) {
      if (isNotFound(error))
        return {
          ok: false,
          problem: kubeconfigProblem(`${what} was not found; create it with the remote kubeconfig under key "${secret.key}".`),
        };
      if (isForbidden(error)) {
        return {
          ok: false,
          problem: kubeconfigProblem(
            `The operator may not get ${what}; install the chart with remote clusters enabled (remoteClusters.enabled) or grant it get on Secrets there.`,
          ),
        };
      }
      return {
        ok: false,
        problem: kubeconfigProblem(`${what} could not be read (${String(error instanceof Error ? error.message : error)}); retrying.`),
      };
    }
    const encoded = (body as { data?: Record<string, string> } | undefined)?.data?.[secret.key];
    if (encoded === undefined)
      return {
        ok: false,
        problem: kubeconfigProblem(
          `${what} has no key "${secret.key}"; store the kubeconfig under that key or set spec.cluster.kubeconfigSecretRef.key.`,
        ),
      };
    const parsed = parseRemoteKubeconfig(Buffer.from(encoded, "base64").toString("utf8"));
    if (!parsed.ok) return { ok: false, problem: kubeconfigProblem(`The kubeconfig in ${what}, key "${secret.key}": ${parsed.message}.`) };
    return { ok: true, credentials: parsed.value };
  }

  /**
   * Starts a cache with `credentials`. The first one is used at once; a later one (a rotated
   * Secret) takes over when it has listed, so rotation never empties the targets in between.
   */
  #connect(credentials: RemoteCredentials, signal: AbortSignal): void {
    this.#pending?.stop.abort();
    const namespace = this.#options.namespace ?? credentials.namespace ?? this.#options.secret.namespace;
    const kubeConfig = kubeConfigFor(credentials);
    const stop = new AbortController();
    signal.addEventListener("abort", () => stop.abort(), { once: true });
    const where: RemoteWhere = { server: credentials.server, namespace };
    const connected: Connected = {
      credentials,
      kubeConfig,
      namespace,
      stop,
      watchProblem: undefined,
      cache: new ClusterCache({
        kubeConfig,
        kinds: this.#options.kinds,
        namespaces: [namespace],
        observer: () => ({
          failed: (_phase, error) => {
            connected.watchProblem = requestProblem(error, where);
            this.#changed();
          },
          transition: (_from, to) => {
            if (to.phase !== "watching" || connected.watchProblem === undefined) return;
            connected.watchProblem = undefined;
            this.#changed();
          },
        }),
      }),
    };
    connected.cache.addHandlerToAll(() => this.#options.onChange());
    // The access problem found with the old credentials stands until #refresh checks the new
    // ones (right after this call): clearing it here would let a reconcile see a healthy cluster
    // while the status metric, written by #changed after the check, still shows the old problem.
    if (this.#connected === undefined) this.#connected = connected;
    else this.#pending = connected;
    this.#options.log.info("Connecting to remote cluster", { server: credentials.server, namespace, credentials: credentials.fingerprint });
    connected.cache.start(stop.signal).catch((error: unknown) => {
      this.#options.log.error("Remote cluster cache stopped", { server: credentials.server, error });
    });
    void connected.cache.hasSynced().then(() => {
      if (this.#pending === connected) {
        this.#connected?.stop.abort();
        this.#connected = connected;
        this.#pending = undefined;
        this.#options.onChange();
      }
      this.#changed();
    });
  }

  async #checkAccess(connected: Connected, signal: AbortSignal): Promise<RemoteProblem | undefined> {
    const where: RemoteWhere = { server: connected.credentials.server, namespace: connected.namespace };
    try {
      const required = requiredAccess(this.#options.kinds);
      const answers = await Promise.all(required.map((access) => this.#allowed(connected, access, signal)));
      const missing = required.filter((_, i) => !answers[i]);
      return missing.length === 0 ? undefined : forbiddenProblem(missing, where);
    } catch (error) {
      return signal.aborted ? undefined : requestProblem(error, where);
    }
  }

  async #allowed(connected: Connected, access: RemoteAccess, signal: AbortSignal): Promise<boolean> {
    const review = (await kubeRequest(connected.kubeConfig, {
      method: "POST",
      path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { namespace: connected.namespace, ...access } },
      },
      signal,
    })) as { status?: { allowed?: boolean } };
    return review.status?.allowed === true;
  }

  /** Calls onChange when the problem changed (cache changes call it directly). */
  #changed(): void {
    const problem = this.problem;
    const now = problem === undefined ? "" : `${problem.reason}: ${problem.message}`;
    if (now === this.#lastProblem) return;
    this.#lastProblem = now;
    this.#options.metrics?.status(this.#options.secret.namespace, this.#options.secret.name, problem?.reason ?? "Ready");
    if (problem !== undefined && problem.reason !== "RemoteConnecting") {
      this.#options.log.warn("Remote cluster unavailable", {
        secret: `${this.#options.secret.namespace}/${this.#options.secret.name}`,
        reason: problem.reason,
        message: problem.message,
      });
    }
    this.#options.onChange();
  }
}
