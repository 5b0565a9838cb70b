/**
 * This gateway replica's heartbeat: a Lease in its namespace, renewed every `renewIntervalMs`,
 * carrying its pod IP, so the controller knows which replicas are alive and where to route
 * (controller/gateway-registry.ts). Deleted on graceful shutdown so the controller reacts at
 * once; a crashed replica's Lease simply expires. With the pod's UID known (POD_UID), the Lease is
 * owned by the pod, so the garbage collector removes it with the pod even when this replica could
 * not (helm uninstall deletes the RBAC first; a Lease left behind would keep a dead replica in
 * the EndpointSlices of a quick reinstall until it expired).
 */
import {
  ANNOTATION_POD_IP,
  GATEWAY_COMPONENT,
  gatewayFieldManager,
  gatewayLeaseName,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  MANAGED_BY_VALUE,
} from "../api/identity.ts";
import { applyObject } from "../kube/apply.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isNotFound } from "../kube/errors.ts";
import { formatMicroTime } from "../kube/events.ts";
import { kubeRequest, resourcePath } from "../kube/request.ts";
import type { Logger } from "../observability/log.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";

export const HEARTBEAT_LEASE_SECONDS = 20;
export const HEARTBEAT_RENEW_MS = 5_000;

export interface HeartbeatOptions {
  readonly kubeConfig: KubeConnection;
  readonly pod: string;
  readonly namespace: string;
  readonly podIP: string;
  /** The pod's UID; empty: the Lease has no owner (a gateway outside a pod). */
  readonly podUid?: string;
  readonly log: Logger;
  readonly clock?: Clock;
}

export class Heartbeat {
  readonly #options: HeartbeatOptions;
  readonly #clock: Clock;
  #renewed = false;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** True once the Lease was written at least once (readiness). */
  get renewed(): boolean {
    return this.#renewed;
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.renew();
      } catch (error) {
        this.#options.log.warn("Failed to renew the gateway heartbeat Lease", { error });
      }
      await sleep(this.#clock, HEARTBEAT_RENEW_MS, signal);
    }
  }

  async renew(): Promise<void> {
    const { kubeConfig, pod } = this.#options;
    await applyObject(kubeConfig, heartbeatLease(this.#options, this.#clock.now()), {
      plural: "leases",
      fieldManager: gatewayFieldManager(pod),
    });
    this.#renewed = true;
  }

  /** Deletes the Lease (graceful shutdown). */
  async release(): Promise<void> {
    const { kubeConfig, pod, namespace } = this.#options;
    try {
      await kubeRequest(kubeConfig, {
        method: "DELETE",
        path: resourcePath({ apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace, name: gatewayLeaseName(pod) }),
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Pure: the Lease a renewal applies at `now`. */
export function heartbeatLease(options: Pick<HeartbeatOptions, "pod" | "namespace" | "podIP" | "podUid">, now: number) {
  const { pod, namespace, podIP, podUid } = options;
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: gatewayLeaseName(pod),
      namespace,
      labels: { [LABEL_COMPONENT]: GATEWAY_COMPONENT, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE },
      annotations: { [ANNOTATION_POD_IP]: podIP },
      // No blockOwnerDeletion: that would need update on pods/finalizers, and nothing waits on it.
      ...(podUid ? { ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod, uid: podUid }] } : {}),
    },
    spec: { holderIdentity: pod, leaseDurationSeconds: HEARTBEAT_LEASE_SECONDS, renewTime: formatMicroTime(now) },
  };
}
