/**
 * The PortForward controller: informers → keys → work queue → reconciler.
 *
 * The queue holds `namespace/name` keys only: cluster changes map to keys as in
 * watch/portforward-keys.ts (owned Services and EndpointSlices map to their owner, which is how
 * drift is repaired), and a change in the set of live gateways enqueues every PortForward
 * (their EndpointSlices list the gateways).
 * With NetworkPolicies configured, an informer on the managed NetworkPolicies of the gateway
 * namespace maps each one back to its PortForward (annotation tunnelkeeper.io/portforward-key):
 * an edited or deleted policy is repaired, one whose PortForward is gone is deleted.
 * Workers start once every informer has listed once, so no reconcile plans from a partial view;
 * the work loop (sync wait, retries, requeues, reconcile metrics) is runtime/controller-loop.ts.
 */
import { ANNOTATION_PORTFORWARD_KEY, LABEL_MANAGED_BY, MANAGED_BY_VALUE } from "../api/identity.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isGone } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import { kubeListWatch } from "../kube/list-watch.ts";
import type { Logger } from "../observability/log.ts";
import type { LeaderElectionMetrics } from "../observability/metrics.ts";
import type { RemoteClusterMetrics } from "../remote/remote-metrics.ts";
import { TargetSources } from "../remote/target-sources.ts";
import { type Clock, systemClock } from "../runtime/clock.ts";
import { ControllerLoop, type ControllerLoopMetrics } from "../runtime/controller-loop.ts";
import { Informer } from "../runtime/informer.ts";
import { objectKey } from "../runtime/store.ts";
import type { WorkQueue } from "../runtime/work-queue.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";
import { enqueueConcernedPortForwards } from "../watch/portforward-keys.ts";
import type { PortRange } from "./allocate-ports.ts";
import type { ConditionMetrics } from "./condition-metrics.ts";
import type { NetworkPolicyObject, NetworkPolicySettings } from "./desired-network-policy.ts";
import { GatewayRegistry } from "./gateway-registry.ts";
import { concernsController } from "./portforward-changes.ts";
import { Reconciler } from "./reconciler.ts";

export const CONTROLLER_NAME = "portforward";

export interface ControllerOptions {
  readonly kubeConfig: KubeConnection;
  readonly cache: ClusterCache;
  readonly gatewayNamespace: string;
  readonly portRange: PortRange;
  /** The tunnel budget (assign-gateways.ts): at most this many gateways serve each PortForward; 0: all. */
  readonly gatewaysPerPortForward?: number;
  readonly events: EventRecorder;
  /** Reconcile and work-queue metrics (one registration per process, shared with the gateway). */
  readonly loopMetrics: ControllerLoopMetrics;
  readonly leaderMetrics: LeaderElectionMetrics;
  readonly conditionMetrics?: ConditionMetrics;
  readonly log: Logger;
  readonly concurrency?: number;
  readonly clock?: Clock;
  /** Remote cluster status and PortForward → cluster (remote/remote-metrics.ts). */
  readonly remoteMetrics?: RemoteClusterMetrics;
  /** Maintain a NetworkPolicy per PortForward on the gateway pods (`--gateway-pod-selector`). */
  readonly networkPolicies?: NetworkPolicySettings;
}

export class PortForwardController {
  readonly queue: WorkQueue;
  readonly gateways: GatewayRegistry;
  readonly #options: ControllerOptions;
  readonly #loop: ControllerLoop;
  readonly #reconciler: Reconciler;
  readonly #policies: Informer<NetworkPolicyObject> | undefined;
  readonly #targets: TargetSources;

  constructor(options: ControllerOptions) {
    this.#options = options;
    const clock = options.clock ?? systemClock;
    this.#loop = new ControllerLoop({
      name: CONTROLLER_NAME,
      reconcile: (key, signal) => this.#reconciler.reconcile(key, signal),
      concurrency: options.concurrency ?? 4,
      metrics: options.loopMetrics,
      log: options.log,
      keyLogField: "portforward",
      clock,
    });
    this.queue = this.#loop.queue;
    this.gateways = new GatewayRegistry({
      kubeConfig: options.kubeConfig,
      namespace: options.gatewayNamespace,
      clock,
      onChange: () => this.#enqueueAll(),
    });
    const settings = options.networkPolicies;
    this.#policies =
      settings === undefined
        ? undefined
        : new Informer<NetworkPolicyObject>({
            name: `networkpolicies/${settings.namespace}`,
            ...kubeListWatch<NetworkPolicyObject>(options.kubeConfig, {
              apiVersion: "networking.k8s.io/v1",
              plural: "networkpolicies",
              kind: "NetworkPolicy",
              namespace: settings.namespace,
              labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`,
            }),
            errors: { isGone },
          });
    this.#policies?.addHandler(({ old, new: current }) => {
      const key = (current ?? old)?.metadata.annotations?.[ANNOTATION_PORTFORWARD_KEY];
      if (key !== undefined) this.queue.add(key);
    });
    this.#targets = new TargetSources({
      kubeConfig: options.kubeConfig,
      cache: options.cache,
      checkAccess: true,
      log: options.log.child({ component: "remote-clusters" }),
      onChange: (keys) => {
        for (const key of keys) this.queue.add(key);
      },
      clock,
      ...(options.remoteMetrics === undefined ? {} : { metrics: options.remoteMetrics }),
    });
    this.#reconciler = new Reconciler({
      kubeConfig: options.kubeConfig,
      cache: options.cache,
      targets: this.#targets,
      gateways: this.gateways,
      portRange: options.portRange,
      ...(options.gatewaysPerPortForward === undefined ? {} : { gatewaysPerPortForward: options.gatewaysPerPortForward }),
      events: options.events,
      log: options.log,
      clock,
      ...(options.conditionMetrics === undefined ? {} : { conditionMetrics: options.conditionMetrics }),
      ...(settings === undefined || this.#policies === undefined ? {} : { networkPolicies: { settings, store: this.#policies.store } }),
    });
    // Our own status writes come back as updates; those alone change nothing we decide.
    enqueueConcernedPortForwards(options.cache, (key) => this.queue.add(key), { portForwardChanged: concernsController });
  }

  #enqueueAll(): void {
    for (const pf of this.#options.cache.portForwards.list()) this.queue.add(objectKey(pf));
  }

  /** Runs until `signal` aborts: waits for the caches, then reconciles with bounded concurrency. */
  async run(signal: AbortSignal): Promise<void> {
    const { cache, leaderMetrics } = this.#options;
    const registry = Promise.all([this.gateways.start(signal), this.#policies?.start(signal)]);
    const workers = this.#loop.run(signal, {
      waitFor: [cache.hasSynced(), this.gateways.hasSynced(), ...(this.#policies === undefined ? [] : [this.#policies.hasSynced()])],
      onStarted: () => {
        this.#targets.start(signal);
        // run() is what a leader does (or the only replica, without leader election).
        leaderMetrics.leading(true);
      },
    });
    await Promise.all([workers, registry]).finally(() => leaderMetrics.leading(false));
  }
}
