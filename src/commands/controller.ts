/**
 * `tunnelkeeper controller`: the PortForward controller, its caches, optional leader election,
 * and the metrics/health endpoint, as runnables for a Manager.
 *
 * The caches run on every replica (a standby is warm when it takes over); only the leader
 * reconciles. Health: /healthz is always up; /readyz waits for the caches' first list.
 */
import { CONTROLLER_LEASE_NAME, REPORTING_CONTROLLER } from "../api/identity.ts";
import type { CommonConfig, ControllerConfig } from "../config.ts";
import { registerConditionMetrics } from "../controller/condition-metrics.ts";
import { PortForwardController } from "../controller/controller.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { EventRecorder, kubeCreateEvent } from "../kube/events.ts";
import { kubeLeaseClient } from "../kube/lease.ts";
import type { HealthServer } from "../observability/health.ts";
import type { Logger } from "../observability/log.ts";
import { type Registry, registerLeaderElectionMetrics } from "../observability/metrics.ts";
import type { RemoteClusterMetrics } from "../remote/remote-metrics.ts";
import type { ControllerLoopMetrics } from "../runtime/controller-loop.ts";
import { LeaderElector, leaderIdentity } from "../runtime/leader-election.ts";
import type { Runnable } from "../runtime/manager.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";

export interface ControllerRunnableDeps {
  readonly kubeConfig: KubeConnection;
  readonly common: CommonConfig;
  readonly config: ControllerConfig;
  readonly cache: ClusterCache;
  readonly registry: Registry;
  /** The reconcile and work-queue metrics, registered once per process (operator.ts). */
  readonly loopMetrics: ControllerLoopMetrics;
  /** Remote cluster status and PortForward → cluster, for this component. */
  readonly remoteMetrics: RemoteClusterMetrics;
  readonly health: HealthServer;
  readonly log: Logger;
}

export function controllerRunnables(deps: ControllerRunnableDeps): Runnable[] {
  const { kubeConfig, config, cache, log } = deps;
  const controller = new PortForwardController({
    kubeConfig,
    cache,
    gatewayNamespace: config.gatewayNamespace,
    portRange: config.gatewayPortRange,
    gatewaysPerPortForward: config.gatewaysPerPortForward,
    events: new EventRecorder({
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: config.instance,
      createEvent: kubeCreateEvent(kubeConfig),
    }),
    loopMetrics: deps.loopMetrics,
    remoteMetrics: deps.remoteMetrics,
    leaderMetrics: registerLeaderElectionMetrics(deps.registry),
    conditionMetrics: registerConditionMetrics(deps.registry),
    log: log.child({ controller: "portforward" }),
    ...(config.gatewayPodLabels === undefined
      ? {}
      : { networkPolicies: { namespace: config.gatewayNamespace, gatewayPodLabels: config.gatewayPodLabels } }),
  });
  deps.health.addReadinessCheck("controller-caches-synced", () => cache.synced);

  if (!config.leaderElect) {
    return [{ name: "controller", start: (signal) => controller.run(signal) }];
  }
  const elector = new LeaderElector({
    client: kubeLeaseClient(kubeConfig, config.leaderElectionNamespace, CONTROLLER_LEASE_NAME),
    identity: leaderIdentity(config.instance),
    onStartedLeading: (signal) => {
      log.info("Became leader; reconciling", { lease: `${config.leaderElectionNamespace}/${CONTROLLER_LEASE_NAME}` });
      return controller.run(signal);
    },
    onStoppedLeading: () => log.info("Stopped leading"),
    observer: {
      newLeader: (holder) => log.info("Another replica leads", { holder }),
      attemptFailed: (error) => log.debug("Leader election attempt failed", { error }),
    },
  });
  return [{ name: "leader-election", start: (signal) => elector.start(signal) }];
}
