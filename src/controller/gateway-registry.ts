/**
 * Which gateway replicas are alive, from their heartbeat Leases (one per replica, in the gateway
 * namespace, renewed every few seconds; see gateway/heartbeat.ts).
 *
 * A replica is live while its Lease has a holder and was renewed within its lease duration.
 * Renewal is judged on this process's clock from when the renewal was *observed* (as client-go's
 * leader election does), so clock skew between nodes cannot make a gateway look dead or alive.
 * `onChange` fires only when the live set (names and addresses) changes — not on every renewal —
 * because each change re-plans every PortForward (their EndpointSlices list the gateways).
 */
import type { V1Lease } from "@kubernetes/client-node";
import { ANNOTATION_POD_IP, GATEWAY_COMPONENT, LABEL_COMPONENT, LABEL_MANAGED_BY, MANAGED_BY_VALUE } from "../api/identity.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isGone } from "../kube/errors.ts";
import { kubeListWatch } from "../kube/list-watch.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";
import { Informer } from "../runtime/informer.ts";
import { byPod } from "../runtime/order.ts";
import type { KubeObject } from "../runtime/store.ts";
import type { GatewayEndpoint } from "./desired-endpoint-slice.ts";

export const GATEWAY_LEASE_SELECTOR = `${LABEL_COMPONENT}=${GATEWAY_COMPONENT},${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`;
const SWEEP_INTERVAL_MS = 1_000;

/** When this process saw each Lease's renewTime change. */
export interface RenewalObservation {
  readonly renewTime: string;
  readonly observedAt: number;
}

/** Pure: the live gateways among `leases`, given when each renewal was observed. */
export function liveGateways(
  leases: readonly V1Lease[],
  observed: ReadonlyMap<string, RenewalObservation>,
  now: number,
): GatewayEndpoint[] {
  const live: GatewayEndpoint[] = [];
  for (const lease of leases) {
    const holder = lease.spec?.holderIdentity ?? "";
    const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    const seen = observed.get(lease.metadata?.name ?? "");
    if (holder === "" || seen === undefined || seen.observedAt + duration <= now) continue;
    live.push({
      pod: holder,
      namespace: lease.metadata?.namespace ?? "",
      ip: lease.metadata?.annotations?.[ANNOTATION_POD_IP] ?? "",
    });
  }
  return live.sort(byPod);
}

export interface GatewayRegistryOptions {
  readonly kubeConfig: KubeConnection;
  readonly namespace: string;
  readonly onChange: () => void;
  readonly clock?: Clock;
}

export class GatewayRegistry {
  readonly #informer: Informer<V1Lease & KubeObject>;
  readonly #observed = new Map<string, RenewalObservation>();
  readonly #clock: Clock;
  readonly #onChange: () => void;
  #live: GatewayEndpoint[] = [];
  #fingerprint = "";

  constructor(options: GatewayRegistryOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onChange;
    this.#informer = new Informer<V1Lease & KubeObject>({
      name: "gateway-leases",
      ...kubeListWatch<V1Lease & KubeObject>(options.kubeConfig, {
        apiVersion: "coordination.k8s.io/v1",
        plural: "leases",
        kind: "Lease",
        namespace: options.namespace,
        labelSelector: GATEWAY_LEASE_SELECTOR,
      }),
      errors: { isGone },
    });
    this.#informer.addHandler(({ new: lease, old }) => {
      const name = (lease ?? old)?.metadata?.name ?? "";
      if (lease === undefined) {
        this.#observed.delete(name);
      } else {
        const renewTime = String(lease.spec?.renewTime ?? "");
        if (this.#observed.get(name)?.renewTime !== renewTime) {
          this.#observed.set(name, { renewTime, observedAt: this.#clock.now() });
        }
      }
      this.#sweep();
    });
  }

  /** Live gateway replicas, sorted by pod name. */
  live(): readonly GatewayEndpoint[] {
    return this.#live;
  }

  hasSynced(): Promise<void> {
    return this.#informer.hasSynced();
  }

  async start(signal: AbortSignal): Promise<void> {
    const informer = this.#informer.start(signal);
    while (!signal.aborted) {
      await sleep(this.#clock, SWEEP_INTERVAL_MS, signal);
      this.#sweep();
    }
    await informer;
  }

  #sweep(): void {
    const live = liveGateways(this.#informer.store.list(), this.#observed, this.#clock.now());
    const fingerprint = JSON.stringify(live);
    if (fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#live = live;
    this.#onChange();
  }
}
