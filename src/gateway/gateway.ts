/**
 * `tunnelkeeper gateway`: for every PortForward the controller has allocated gateway ports to,
 * a Forwarder listening on those ports with tunnels to the ready target pods; and this replica's
 * entry in each PortForward's status.
 *
 * Two work queues of PortForward keys:
 * - sync: resolve targets from the cache (the same pure resolveTargets the controller uses, so
 *   the gateway reacts to a replaced pod without waiting for the controller) and update the
 *   Forwarder; fed by cache changes (watch/portforward-keys.ts);
 * - report: apply this replica's status entry when it changed; fed by Forwarder changes.
 * Shutdown (`close`): stop accepting, let open connections finish for the drain timeout, close
 * tunnels, then withdraw this replica's status entries.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, gatewayFieldManager, KIND, PLURAL } from "../api/identity.ts";
import { type PortForward, parsePortForward } from "../api/portforward.ts";
import type { GatewayStatus } from "../api/status.ts";
import { parseDurationMs } from "../api/validation.ts";
import type { GatewayConfig } from "../config.ts";
import { resolveTargets } from "../controller/resolve-targets.ts";
import { applyStatus } from "../kube/apply.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Logger } from "../observability/log.ts";
import { type Clock, systemClock } from "../runtime/clock.ts";
import { parseKey } from "../runtime/store.ts";
import { WorkQueue } from "../runtime/work-queue.ts";
import { openTunnel } from "../tunnel/index.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";
import { enqueueConcernedPortForwards } from "../watch/portforward-keys.ts";
import { Forwarder, type ForwarderSpec } from "./forwarder.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import { buildGatewayEntry, COUNTER_REPORT_INTERVAL_MS, countersChanged, isSignificantChange } from "./gateway-status.ts";

export interface GatewayOptions {
  readonly kubeConfig: KubeConfig;
  readonly cache: ClusterCache;
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly clock?: Clock;
}

interface Served {
  readonly forwarder: Forwarder;
  /** The tunnel settings the forwarder was built with; a change rebuilds it. */
  readonly settings: string;
  hasReadyTargets: boolean;
  reported: GatewayStatus | undefined;
  reportedAt: number;
}

/** Pure: the Forwarder's desired state for `pf` given the cache's view of its namespace. */
export function forwarderSpecFor(pf: PortForward, observation: Parameters<typeof resolveTargets>[1]): ForwarderSpec {
  const resolved = resolveTargets(pf, observation);
  return {
    targets: resolved.targets.map((t) => ({ pod: t.pod, ready: t.ready, ports: t.ports })),
    bindings: (pf.status?.ports ?? []).map((p) => ({ port: p.port, listenPort: p.gatewayPort })),
    loadBalancing: pf.spec.loadBalancing,
  };
}

export class Gateway {
  readonly #options: GatewayOptions;
  readonly #clock: Clock;
  readonly #sync: WorkQueue;
  readonly #report: WorkQueue;
  readonly #served = new Map<string, Served>();
  #closing = false;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#sync = new WorkQueue({ clock: this.#clock });
    this.#report = new WorkQueue({ clock: this.#clock });
    enqueueConcernedPortForwards(options.cache, (key) => this.#sync.add(key));
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.race([this.#options.cache.hasSynced(), new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    const retrying = (work: (key: string) => Promise<void>, queue: WorkQueue, what: string) => async (key: string) => {
      try {
        await work(key);
        queue.forget(key);
      } catch (error) {
        if (this.#closing) return;
        this.#options.log.warn(`Gateway ${what} failed; retrying with backoff`, { portforward: key, error });
        queue.addRateLimited(key);
      }
    };
    await Promise.all([
      this.#sync.run(
        retrying((key) => this.#syncKey(key), this.#sync, "sync"),
        4,
        signal,
      ),
      this.#report.run(
        retrying((key) => this.#reportKey(key), this.#report, "status report"),
        2,
        signal,
      ),
    ]);
  }

  /** Graceful shutdown: drain connections, close tunnels, withdraw status entries. */
  async close(drainMs: number): Promise<void> {
    this.#closing = true;
    this.#sync.shutdown();
    this.#report.shutdown();
    const served = [...this.#served.entries()];
    this.#served.clear();
    await Promise.all(served.map(([, s]) => s.forwarder.close(drainMs)));
    await Promise.all(served.map(([key]) => this.#withdrawEntry(key)));
  }

  async #syncKey(key: string): Promise<void> {
    if (this.#closing) return;
    const { cache, config, kubeConfig, log, metrics } = this.#options;
    const raw = cache.portForwards.get(key);
    const parsed = raw === undefined || raw.metadata?.deletionTimestamp !== undefined ? undefined : parsePortForward(raw);
    if (parsed === undefined || !parsed.ok) {
      const gone = this.#served.get(key);
      this.#served.delete(key);
      await gone?.forwarder.close(0);
      return;
    }
    const pf = parsed.value;
    const { namespace } = parseKey(key);
    const keepaliveIntervalMs = parseDurationMs(pf.spec.keepalive.interval) ?? 10_000;
    const settings = JSON.stringify([pf.spec.protocol, keepaliveIntervalMs]);
    let served = this.#served.get(key);
    if (served !== undefined && served.settings !== settings) {
      this.#served.delete(key);
      await served.forwarder.close(0);
      served = undefined;
    }
    if (served === undefined) {
      const forwarder = new Forwarder({
        name: key,
        listenHost: config.listenHost,
        log: log.child({ portforward: key }),
        metrics,
        onChange: () => this.#report.add(key),
        openTunnel: (pod, signal) =>
          openTunnel({ kubeConfig, namespace: namespace ?? "", pod, protocol: pf.spec.protocol, keepaliveIntervalMs, signal }),
      });
      served = { forwarder, settings, hasReadyTargets: false, reported: this.#reportedEntry(pf), reportedAt: 0 };
      this.#served.set(key, served);
    }
    const spec = forwarderSpecFor(pf, cache.observationFor(namespace ?? ""));
    served.hasReadyTargets = spec.targets.some((t) => t.ready);
    await served.forwarder.update(spec);
    this.#report.add(key);
  }

  /** Our entry as the PortForward's status shows it (after a restart, the last one we wrote). */
  #reportedEntry(pf: PortForward): GatewayStatus | undefined {
    return pf.status?.gateways?.find((g) => g.pod === this.#options.config.podName);
  }

  async #reportKey(key: string): Promise<void> {
    const served = this.#served.get(key);
    if (served === undefined || this.#closing) return;
    const now = this.#clock.now();
    const entry = buildGatewayEntry(
      this.#options.config.podName,
      served.forwarder.snapshot(),
      served.hasReadyTargets,
      served.reported,
      new Date(now),
    );
    const significant = isSignificantChange(served.reported, entry);
    if (!significant) {
      if (!countersChanged(served.reported, entry)) return;
      const wait = served.reportedAt + COUNTER_REPORT_INTERVAL_MS - now;
      if (wait > 0) {
        this.#report.addAfter(key, wait);
        return;
      }
    }
    await this.#applyEntries(key, [entry]);
    served.reported = entry;
    served.reportedAt = now;
  }

  async #withdrawEntry(key: string): Promise<void> {
    try {
      await this.#applyEntries(key, []);
    } catch (error) {
      if (!isNotFound(error)) this.#options.log.warn("Failed to withdraw the gateway status entry", { portforward: key, error });
    }
  }

  /** Applies this replica's entries (one, or none to withdraw) under its own field manager. */
  async #applyEntries(key: string, gateways: GatewayStatus[]): Promise<void> {
    const { namespace, name } = parseKey(key);
    await applyStatus(
      this.#options.kubeConfig,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: namespace ?? "" }, status: { gateways } },
      { plural: PLURAL, fieldManager: gatewayFieldManager(this.#options.config.podName) },
    );
  }
}
