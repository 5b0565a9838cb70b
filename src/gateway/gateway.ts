/**
 * `tunnelkeeper gateway`: for every PortForward the controller has allocated gateway ports to,
 * a Forwarder listening on those ports with tunnels to the ready target pods; and this replica's
 * entry in each PortForward's status.
 *
 * Two work queues of PortForward keys, each run by a ControllerLoop (runtime/controller-loop.ts:
 * retries, requeues and the controller_runtime_reconcile_* and workqueue_* metrics):
 * - sync (`gateway-sync`): resolve targets from the cache (the same pure resolveTargets the
 *   controller uses, so the gateway reacts to a replaced pod without waiting for the controller)
 *   and update the Forwarder; fed by cache changes (watch/portforward-keys.ts);
 * - report (`gateway-status`): apply this replica's status entry when it changed; fed by Forwarder
 *   changes. Counter-only changes are written at most every COUNTER_REPORT_INTERVAL_MS per
 *   PortForward and within the replica's `--counter-writes-per-second` over all of them
 *   (counter-write-budget.ts): the key is requeued for when the interval ends, then for its slot.
 * Access: every connection is checked against the PortForward's spec.access (access-decision.ts)
 * with the peer cache's view of the source address; refusals are counted, logged, summarised in
 * this replica's status entry and reported as a Warning Event at most once a minute per
 * PortForward. Every connection leaves one access-log line (access-log.ts) when it ends.
 * Shutdown (`close`): stop accepting, let open connections finish for the drain timeout, close
 * tunnels, then withdraw this replica's status entries.
 */
import type { Peer } from "../api/access.ts";
import { Reason } from "../api/conditions.ts";
import { API_VERSION, gatewayFieldManager, KIND, PLURAL } from "../api/identity.ts";
import { endpointSliceNameOf, serviceNameOf } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import { reconcileRequestOf } from "../api/reconcile-request.ts";
import type { GatewayStatus } from "../api/status.ts";
import type { GatewayConfig } from "../config.ts";
import { applyStatus } from "../kube/apply.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isNotFound } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Logger } from "../observability/log.ts";
import type { RemoteClusterMetrics } from "../remote/remote-metrics.ts";
import { TargetSources } from "../remote/target-sources.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";
import { ControllerLoop, type ControllerLoopMetrics, type ReconcileResult } from "../runtime/controller-loop.ts";
import { parseKey } from "../runtime/store.ts";
import type { WorkQueue } from "../runtime/work-queue.ts";
import { resolveTargets } from "../targets/resolve-targets.ts";
import { tunnelSettingsFor } from "../targets/tunnel-settings.ts";
import { isTunnelError, openTunnel, TunnelErrorCode } from "../tunnel/index.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";
import { enqueueConcernedPortForwards } from "../watch/portforward-keys.ts";
import { decideAccess } from "./access-decision.ts";
import { ACCESS_LOG_MESSAGE, accessLogFields } from "./access-log.ts";
import { CounterWriteBudget } from "./counter-write-budget.ts";
import { type ConnectionAccess, type ConnectionRecord, Forwarder, type ForwarderSpec } from "./forwarder.ts";
import { type GatewayBindings, gatewayBindingsOf, isAssignedGateway } from "./gateway-bindings.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import {
  buildGatewayEntry,
  COUNTER_REPORT_INTERVAL_MS,
  countersChanged,
  type DenialSummary,
  isSignificantChange,
} from "./gateway-status.ts";
import type { PeerCache } from "./peer-cache.ts";
import { concernsGateway } from "./portforward-changes.ts";

export interface GatewayOptions {
  readonly kubeConfig: KubeConnection;
  readonly cache: ClusterCache;
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** Reconcile and work-queue metrics of the two loops (one registration per process, shared with the controller). */
  readonly loopMetrics: ControllerLoopMetrics;
  /**
   * Attributes source addresses to pods. Without it no source is attributable, so only ipBlock
   * peers can admit anyone (`--peer-cache=false`).
   */
  readonly peers?: PeerCache;
  /** Warning Events for refused connections (deduplicated per PortForward for a minute). */
  readonly events?: EventRecorder;
  readonly clock?: Clock;
  /** Remote cluster status and PortForward → cluster (remote/remote-metrics.ts). */
  readonly remoteMetrics?: RemoteClusterMetrics;
}

interface Served {
  readonly forwarder: Forwarder;
  /** The tunnel settings the forwarder was built with; a change rebuilds it. */
  readonly settings: string;
  hasReadyTargets: boolean;
  reported: GatewayStatus | undefined;
  reportedAt: number;
  /** The slot booked in the counter-write budget for a counter-only write; cleared by any write. */
  counterSlotAt: number | undefined;
  /** spec.access.from as of the latest sync (undefined: the default, this namespace only). */
  peers: readonly Peer[] | undefined;
  uid: string | undefined;
  denials: DenialSummary | undefined;
  /** spec.suspend as of the latest sync: the forwarder then has no targets and no listeners. */
  suspended: boolean;
  /** The reconcile request (api/reconcile-request.ts) as of the latest sync; a new one redials. */
  reconcileRequest: string | undefined;
  /** Whether the controller has handed the PortForward gateway ports to listen on yet (gateway-bindings.ts). */
  hasBindings: boolean;
  /** The credentials tunnels are opened with as of the latest sync (a remote Secret rotates them). */
  credentials: KubeConnection | undefined;
}

/** Pure: the Forwarder's desired state for `pf` given the cache's view of its namespace and the gateway ports handed to it. */
export function forwarderSpecFor(
  pf: PortForward,
  observation: Parameters<typeof resolveTargets>[1],
  handed: Pick<GatewayBindings, "bindings">,
): ForwarderSpec {
  const resolved = resolveTargets(pf, observation);
  return {
    targets: resolved.targets.map((t) => ({ pod: t.pod, ready: t.ready, ports: t.ports })),
    bindings: handed.bindings,
    loadBalancing: pf.spec.loadBalancing,
  };
}

/** The gateway's loops: the `controller` label of their reconciles and the `name` of their queues. */
export const GATEWAY_SYNC = "gateway-sync";
export const GATEWAY_STATUS = "gateway-status";

/** How long a connection from an address the peer cache does not know waits for it (see #authorize). */
export const UNKNOWN_SOURCE_GRACE_MS = 1_000;
const UNKNOWN_SOURCE_POLL_MS = 50;

/** Refusals an earlier run of this replica reported, so a restart keeps counting from there. */
function previousDenials(entry: GatewayStatus | undefined): DenialSummary | undefined {
  return entry?.lastDenied === undefined ? undefined : { count: entry.deniedConnections ?? 0, last: entry.lastDenied };
}

export class Gateway {
  readonly #options: GatewayOptions;
  readonly #clock: Clock;
  readonly #syncLoop: ControllerLoop;
  readonly #reportLoop: ControllerLoop;
  /** The loops' queues. */
  readonly #sync: WorkQueue;
  readonly #report: WorkQueue;
  readonly #served = new Map<string, Served>();
  /**
   * Keys of #served whose assigned gateways (gateway-bindings.ts) do not list this replica: tunnels only on
   * demand, and no status entry while cold. A set, not a flag per entry, so counting the roles
   * for the metrics is not a scan of every served PortForward per sync.
   */
  readonly #standby = new Set<string>();
  readonly #targets: TargetSources;
  readonly #counterWrites: CounterWriteBudget;
  #closing = false;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#counterWrites = new CounterWriteBudget(options.config.counterWritesPerSecond);
    const loop = { metrics: options.loopMetrics, log: options.log, keyLogField: "portforward", clock: this.#clock };
    this.#syncLoop = new ControllerLoop({
      ...loop,
      name: GATEWAY_SYNC,
      concurrency: 4,
      reconcile: async (key) => {
        await this.#syncKey(key);
        return {};
      },
    });
    this.#reportLoop = new ControllerLoop({ ...loop, name: GATEWAY_STATUS, concurrency: 2, reconcile: (key) => this.#reportKey(key) });
    this.#sync = this.#syncLoop.queue;
    this.#report = this.#reportLoop.queue;
    this.#targets = new TargetSources({
      kubeConfig: options.kubeConfig,
      cache: options.cache,
      checkAccess: false,
      log: options.log.child({ component: "remote-clusters" }),
      onChange: (keys) => {
        for (const key of keys) this.#sync.add(key);
      },
      clock: this.#clock,
      ...(options.remoteMetrics === undefined ? {} : { metrics: options.remoteMetrics }),
    });
    // Status writes (ours, other replicas', the controller's) come back as updates and change
    // nothing a sync reads; the PortForward's own Service and EndpointSlice carry its gateway
    // ports and assignment (gateway-bindings.ts), so their changes do.
    enqueueConcernedPortForwards(options.cache, (key) => this.#sync.add(key), { portForwardChanged: concernsGateway });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#targets.start(signal);
    const synced = Promise.all([this.#options.cache.hasSynced(), this.#options.peers?.hasSynced()]);
    await Promise.all([this.#syncLoop.run(signal, { waitFor: [synced] }), this.#reportLoop.run(signal, { waitFor: [synced] })]);
  }

  /** Graceful shutdown: drain connections, close tunnels, withdraw status entries. */
  async close(drainMs: number): Promise<void> {
    this.#closing = true;
    this.#sync.shutdown();
    this.#report.shutdown();
    const served = [...this.#served.entries()];
    this.#served.clear();
    this.#standby.clear();
    await Promise.all(served.map(([, s]) => s.forwarder.close(drainMs)));
    await Promise.all(served.map(([key]) => this.#withdrawEntry(key)));
  }

  async #syncKey(key: string): Promise<void> {
    if (this.#closing) return;
    const { cache, config, log, metrics } = this.#options;
    const raw = cache.portForwards.get(key);
    const parsed = raw === undefined || raw.metadata?.deletionTimestamp !== undefined ? undefined : cache.parsedPortForward(raw);
    if (parsed === undefined || !parsed.ok) {
      const gone = this.#served.get(key);
      this.#served.delete(key);
      this.#standby.delete(key);
      this.#countRoles();
      this.#targets.release(key);
      await gone?.forwarder.close(0);
      return;
    }
    const pf = parsed.value;
    const { namespace } = parseKey(key);
    const settings = tunnelSettingsFor(pf);
    let served = this.#served.get(key);
    if (served !== undefined && served.settings !== settings.key) {
      this.#served.delete(key);
      await served.forwarder.close(0);
      served = undefined;
    }
    if (served === undefined) {
      const state: { served?: Served } = {};
      const forwarder = new Forwarder({
        name: key,
        listenHost: config.listenHost,
        idleTunnelCloseMs: config.idleTunnelCloseMs,
        log: log.child({ portforward: key }),
        metrics,
        clock: this.#clock,
        onChange: () => this.#report.add(key),
        authorize: (address) => this.#authorize(address, namespace ?? "", state.served?.peers),
        onConnectionEnded: (record) => this.#connectionEnded(key, state.served, record),
        openTunnel: (pod, signal) => {
          // Looked up per dial: a rotated remote Secret applies to the next tunnel opened.
          const endpoint = this.#targets.tunnelEndpoint(key, pf);
          if (endpoint === undefined) return Promise.reject(new Error(`the remote cluster of ${key} has no valid credentials yet`));
          const { kubeConfig, namespace } = endpoint;
          const { protocol, keepaliveIntervalMs } = settings;
          return openTunnel({ kubeConfig, namespace, pod, protocol, keepaliveIntervalMs, signal }).catch((error: unknown) => {
            // Refused credentials may have been rotated since they were read: read them again now.
            if (isTunnelError(error) && error.code === TunnelErrorCode.Forbidden) this.#targets.credentialsRefused(key);
            throw error;
          });
        },
      });
      const previous = this.#reportedEntry(pf);
      served = {
        forwarder,
        settings: settings.key,
        hasReadyTargets: false,
        reported: previous,
        reportedAt: 0,
        counterSlotAt: undefined,
        peers: pf.spec.access?.from,
        uid: pf.metadata.uid,
        denials: undefined,
        suspended: false,
        reconcileRequest: reconcileRequestOf(pf.metadata),
        hasBindings: false,
        credentials: this.#targets.tunnelEndpoint(key, pf)?.kubeConfig,
      };
      state.served = served;
      this.#served.set(key, served);
    }
    served.peers = pf.spec.access?.from;
    served.uid = pf.metadata.uid;
    // Suspended: no targets and no bindings, so every tunnel and listener closes (connections are
    // refused, not held); the allocated ports stay on the Service for the resume.
    served.suspended = pf.spec.suspend === true;
    const handed = gatewayBindingsOf(pf, {
      service: cache.services.get(`${namespace ?? ""}/${serviceNameOf(pf)}`),
      endpointSlice: cache.endpointSlices.get(`${namespace ?? ""}/${endpointSliceNameOf(pf)}`),
      services: () => cache.services.inNamespace(namespace ?? ""),
    });
    const standby = !isAssignedGateway(handed, config.podName);
    if (standby) this.#standby.add(key);
    else this.#standby.delete(key);
    const spec = served.suspended
      ? { targets: [], bindings: [], loadBalancing: pf.spec.loadBalancing }
      : forwarderSpecFor(pf, this.#targets.observe(key, pf), handed);
    served.hasReadyTargets = spec.targets.some((t) => t.ready);
    served.hasBindings = spec.bindings.length > 0;
    // Tunnels are kept only once the controller has reconciled the PortForward (its Service and
    // EndpointSlice hand this replica gateway ports) and assigned this replica. Before its first reconcile a new PortForward names no
    // assigned gateways, and dialling then would open one tunnel per replica for every new
    // PortForward, the very cost the budget bounds (1,000 new PortForwards on 3 replicas dialled
    // 3,000 tunnels; bench `controller --gateways 3`). Without ports no client can connect yet.
    const keepTunnels = !standby && served.hasBindings;
    await served.forwarder.update(served.suspended ? spec : { ...spec, keepTunnels });
    this.#countRoles();
    const credentials = this.#targets.tunnelEndpoint(key, pf)?.kubeConfig;
    if (credentials !== served.credentials) {
      // A rotated remote Secret: tunnels that are not open (e.g. backing off after the old
      // credentials were refused) dial with the new ones now rather than when their backoff ends.
      served.credentials = credentials;
      const redialled = served.forwarder.redialNow();
      if (redialled > 0) log.info("New remote credentials; redialling the tunnels that are not open", { portforward: key, redialled });
    }
    const request = reconcileRequestOf(pf.metadata);
    if (request !== served.reconcileRequest && request !== undefined) {
      served.reconcileRequest = request;
      const redialled = served.forwarder.redialNow();
      log.info("Reconcile requested; redialling the tunnels that are not open", { portforward: key, requestedAt: request, redialled });
    }
    this.#report.add(key);
  }

  #countRoles(): void {
    this.#options.metrics.portForwards(this.#served.size - this.#standby.size, this.#standby.size);
  }

  /**
   * The access decision for one connection. A source the peer cache does not know yet is given
   * UNKNOWN_SOURCE_GRACE_MS to appear before it is refused: a new pod can connect before the
   * kubelet has reported its IP to the API server (seen on the real node: a client pod's first
   * connection arrived before its IP did). Known pods that no peer admits are refused at once.
   */
  async #authorize(address: string, namespace: string, peers: readonly Peer[] | undefined): Promise<ConnectionAccess> {
    const cache = this.#options.peers;
    const decide = (): ConnectionAccess => {
      const client = cache?.lookup(address);
      const decision = decideAccess({
        source: address,
        pod: client,
        namespaceLabels: (ns) => cache?.namespaceLabels(ns),
        namespace,
        peers,
      });
      return { decision, client };
    };
    let access = decide();
    const deadline = this.#clock.now() + UNKNOWN_SOURCE_GRACE_MS;
    while (cache !== undefined && !access.decision.allowed && access.client === undefined && this.#clock.now() < deadline) {
      await sleep(this.#clock, UNKNOWN_SOURCE_POLL_MS);
      access = decide();
    }
    return access;
  }

  #connectionEnded(key: string, served: Served | undefined, record: ConnectionRecord): void {
    const { log, config } = this.#options;
    log.info(ACCESS_LOG_MESSAGE, accessLogFields(key, config.podName, record));
    if (served === undefined || record.decision === undefined || record.decision.allowed) return;
    const client = record.client === undefined ? undefined : `${record.client.namespace}/${record.client.name}`;
    const reason = record.decision.reason === "source_unknown" ? Reason.SourceUnknown : Reason.PeerNotAllowed;
    served.denials = {
      count: (served.denials?.count ?? served.reported?.deniedConnections ?? 0) + 1,
      last: {
        time: new Date(this.#clock.now()).toISOString(),
        source: record.clientAddress,
        ...(client === undefined ? {} : { client }),
        reason,
      },
    };
    this.#report.add(key);
    const { namespace, name } = parseKey(key);
    const who = client === undefined ? record.clientAddress : `${record.clientAddress} (pod ${client})`;
    this.#options.events
      ?.record(
        { apiVersion: API_VERSION, kind: KIND, name, namespace: namespace ?? "", ...(served.uid === undefined ? {} : { uid: served.uid }) },
        {
          type: "Warning",
          reason: "ConnectionDenied",
          action: "Deny",
          note: `Gateway ${config.podName} refused a connection from ${who} to port ${record.port}: ${reason === Reason.SourceUnknown ? "the address is no pod the gateway knows and no ipBlock peer admits it" : "no peer of spec.access admits this pod"}. Further refusals within a minute are only counted (status.gateways[].deniedConnections, tunnelkeeper_gateway_connections_denied_total) and logged.`,
        },
      )
      .catch((error: unknown) => log.warn("Failed to record Event", { reason: "ConnectionDenied", error }));
  }

  /** Our entry as the PortForward's status shows it (after a restart, the last one we wrote). */
  #reportedEntry(pf: PortForward): GatewayStatus | undefined {
    return pf.status?.gateways?.find((g) => g.pod === this.#options.config.podName);
  }

  async #reportKey(key: string): Promise<ReconcileResult> {
    const served = this.#served.get(key);
    if (served === undefined || this.#closing) return {};
    const now = this.#clock.now();
    const snapshot = served.forwarder.snapshot();
    if (this.#standby.has(key) && !snapshot.warm) {
      // Standing by with no tunnel: nothing to report, and an entry would count as a gateway that
      // is down (Degraded). Withdraw the one written while this replica served or was used.
      if (served.reported === undefined) return {};
      await this.#applyEntries(key, []);
      served.reported = undefined;
      served.reportedAt = now;
      served.counterSlotAt = undefined;
      return {};
    }
    if (!served.hasBindings && !served.suspended && served.reported === undefined && snapshot.lastFailure === undefined) {
      // The controller has not allocated gateway ports yet (its first reconcile is on the way):
      // an entry now could only say "not connected", which the controller would report as
      // Reconnecting, with a Warning Event, for a PortForward that is merely new.
      return {};
    }
    if (snapshot.firstDialPending && snapshot.listenErrors.length === 0) {
      // The tunnels' first dial is under way: an entry now could only say "not connected"
      // (Reconnecting) and be followed a moment later by "connected": two writes per new
      // PortForward instead of one, and a Ready that flaps (with a Warning Event) when a gateway
      // restarts. The dial ends either way within its handshake timeout, and its state change
      // brings the key back here.
      return {};
    }
    const entry = buildGatewayEntry(
      this.#options.config.podName,
      snapshot,
      served.hasReadyTargets,
      served.reported,
      new Date(now),
      served.denials ?? previousDenials(served.reported),
      served.suspended,
    );
    const significant = isSignificantChange(served.reported, entry);
    if (!significant) {
      if (!countersChanged(served.reported, entry)) return {};
      const wait = served.reportedAt + COUNTER_REPORT_INTERVAL_MS - now;
      if (wait > 0) return { requeueAfterMs: wait };
      served.counterSlotAt ??= now + this.#counterWrites.reserve(now);
      if (served.counterSlotAt > now) return { requeueAfterMs: served.counterSlotAt - now };
    }
    await this.#applyEntries(key, [entry]);
    served.reported = entry;
    served.reportedAt = now;
    served.counterSlotAt = undefined;
    return {};
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
