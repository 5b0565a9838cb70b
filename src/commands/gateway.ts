/**
 * `tunnelkeeper gateway`: the Gateway and its heartbeat as runnables for a Manager.
 * Health: /readyz waits for the caches' first list (the peer cache's too) and the first heartbeat.
 */
import { REPORTING_GATEWAY } from "../api/identity.ts";
import type { GatewayConfig } from "../config.ts";
import { Gateway } from "../gateway/gateway.ts";
import { registerGatewayMetrics } from "../gateway/gateway-metrics.ts";
import { Heartbeat } from "../gateway/heartbeat.ts";
import { PeerCache } from "../gateway/peer-cache.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { EventRecorder, kubeCreateEvent } from "../kube/events.ts";
import type { HealthServer } from "../observability/health.ts";
import type { Logger } from "../observability/log.ts";
import type { Registry } from "../observability/metrics.ts";
import type { RemoteClusterMetrics } from "../remote/remote-metrics.ts";
import type { ControllerLoopMetrics } from "../runtime/controller-loop.ts";
import type { Runnable } from "../runtime/manager.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";

export interface GatewayRunnableDeps {
  readonly kubeConfig: KubeConnection;
  readonly config: GatewayConfig;
  readonly cache: ClusterCache;
  readonly registry: Registry;
  /** The reconcile and work-queue metrics, registered once per process (operator.ts). */
  readonly loopMetrics: ControllerLoopMetrics;
  /** Remote cluster status and PortForward → cluster, for this component. */
  readonly remoteMetrics: RemoteClusterMetrics;
  readonly health: HealthServer;
  readonly log: Logger;
  /** Watched namespaces (empty: all): the peer cache attributes pods of these only. */
  readonly namespaces: readonly string[];
}

/** Refusal Events: at most one per PortForward per minute from each replica. */
const DENIAL_EVENT_WINDOW_MS = 60_000;

export function gatewayRunnables(deps: GatewayRunnableDeps): Runnable[] {
  const { kubeConfig, config, cache } = deps;
  const log = deps.log.child({ component: "gateway", pod: config.podName });
  const peers = config.peerCache
    ? new PeerCache({
        kubeConfig,
        namespaces: deps.namespaces,
        observer: (kind) => ({
          failed: (phase, error, retryInMs) => log.warn("Watch failed; retrying", { kind, phase, retryInMs, error }),
        }),
      })
    : undefined;
  const events = new EventRecorder({
    reportingController: REPORTING_GATEWAY,
    reportingInstance: config.podName,
    createEvent: kubeCreateEvent(kubeConfig),
    dedupWindowMs: DENIAL_EVENT_WINDOW_MS,
  });
  const gateway = new Gateway({
    kubeConfig,
    cache,
    config,
    log,
    metrics: registerGatewayMetrics(deps.registry),
    loopMetrics: deps.loopMetrics,
    remoteMetrics: deps.remoteMetrics,
    ...(peers === undefined ? {} : { peers }),
    events,
  });
  const heartbeat = new Heartbeat({
    kubeConfig,
    pod: config.podName,
    namespace: config.podNamespace,
    podIP: config.podIP,
    podUid: config.podUid,
    log,
  });
  deps.health.addReadinessCheck("gateway-caches-synced", () => cache.synced && (peers?.synced ?? true));
  deps.health.addReadinessCheck("gateway-heartbeat", () => heartbeat.renewed);
  return [
    ...(peers === undefined ? [] : [{ name: "peer-cache", start: (signal: AbortSignal) => peers.start(signal) }]),
    { name: "gateway-heartbeat", start: (signal) => heartbeat.start(signal), close: () => heartbeat.release() },
    {
      name: "gateway",
      start: (signal) => gateway.run(signal),
      // Manager closes runnables after their start() settled, this one first. Withdraw from the
      // EndpointSlices first (the heartbeat Lease goes, the controller drops this replica) and keep
      // accepting while kube-proxy catches up, so no new connection is refused; then drain.
      close: async () => {
        if (config.shutdownDelayMs > 0) {
          await heartbeat.release().catch((error: unknown) => log.warn("Could not withdraw the heartbeat Lease", { error: String(error) }));
          log.info("Withdrawn from EndpointSlices; still accepting", { shutdownDelayMs: config.shutdownDelayMs });
          await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
        }
        log.info("Draining gateway connections", { drainTimeoutMs: config.drainTimeoutMs });
        await gateway.close(config.drainTimeoutMs);
      },
    },
  ];
}
