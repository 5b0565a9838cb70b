/**
 * One reconcile of one PortForward key: gather (from the informer caches) → plan (pure) →
 * apply (server-side apply of the Service and its EndpointSlice, then the status) → Events.
 *
 * Contracts:
 * - Level-based: the key is all it gets; whatever changed, the same steps run.
 * - Writes only what changed: a Service or EndpointSlice is applied when the desired object
 *   differs from what this process last applied, or when the cached object is not the one that
 *   apply returned (someone edited or deleted it: drift is repaired); status is applied when the
 *   controller-owned part differs.
 * - Gateway ports claimed by in-flight reconciles are remembered in-process, so concurrent
 *   reconciles of different PortForwards never hand out the same port before their Services
 *   reach the cache (allocate-ports.ts explains why the Services are the record otherwise).
 * - Per-pod Services (spec.service.perPod; desired-pod-services.ts): applied with their
 *   EndpointSlices like the Service; this PortForward's per-pod objects that are no longer wanted
 *   are deleted here (garbage collection only removes them with the PortForward).
 * - NetworkPolicies (when configured): one per PortForward in the gateway namespace
 *   (desired-network-policy.ts), applied and repaired like the Service; deleted here when the
 *   PortForward is gone, since owner references cannot cross namespaces.
 * - A new PortForward's first status write waits, for a few seconds at most from the reconcile
 *   that first held it, for the gateways' first report, so that it already says whether the tunnels work (first-status-hold.ts).
 * - Status entries of gateways that are gone are removed by a JSON patch after a grace period
 *   (server-side apply cannot remove another field manager's entries).
 */
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { API_VERSION, CONTROLLER_FIELD_MANAGER, KIND, PLURAL } from "../api/identity.ts";
import { isServiceOwnedBy, serviceNameOf } from "../api/owned-objects.ts";
import type { PortForward } from "../api/portforward.ts";
import type { GatewayStatus } from "../api/status.ts";
import { type ApplyTarget, applyObject, applyStatus } from "../kube/apply.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { isNotFound } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import { kubeRequest, resourcePath } from "../kube/request.ts";
import type { Logger } from "../observability/log.ts";
import type { TargetSources } from "../remote/target-sources.ts";
import type { Clock } from "../runtime/clock.ts";
import type { ReconcileResult } from "../runtime/controller-loop.ts";
import type { StoreReader } from "../runtime/store.ts";
import { parseKey } from "../runtime/store.ts";
import type { ClusterCache } from "../watch/cluster-cache.ts";
import { type PortRange, podOwnerKey, serviceGatewayPortRecords } from "./allocate-ports.ts";
import type { ConditionMetrics } from "./condition-metrics.ts";
import type { GatewayEndpoint } from "./desired-endpoint-slice.ts";
import {
  buildDesiredNetworkPolicy,
  type NetworkPolicyObject,
  type NetworkPolicySettings,
  networkPolicyNameOf,
} from "./desired-network-policy.ts";
import { firstStatusHoldMs } from "./first-status-hold.ts";
import { type GatewayPortClaims, GatewayPortRecordIndex, type SourcedRecord } from "./gateway-port-claims.ts";
import { isStatusUnchanged, type Observed, type Plan, plan } from "./plan.ts";
import { PodObjectIndex } from "./pod-object-index.ts";
import { syncPodServices } from "./sync-pod-services.ts";

/** How long an entry of a gateway that is not live stays before it is removed (see header). */
export const STALE_GATEWAY_ENTRY_GRACE_MS = 30_000;

export interface ReconcilerDeps {
  readonly kubeConfig: KubeConnection;
  readonly cache: ClusterCache;
  /** Where each PortForward's targets are observed: this cluster's cache or its remote cluster. */
  readonly targets: TargetSources;
  readonly gateways: { live(): readonly GatewayEndpoint[] };
  readonly portRange: PortRange;
  /** The tunnel budget: at most this many live gateways serve each PortForward (assign-gateways.ts); 0: all. */
  readonly gatewaysPerPortForward?: number;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly clock: Clock;
  readonly conditionMetrics?: ConditionMetrics;
  /** NetworkPolicies on the gateway pods; absent: none are managed. */
  readonly networkPolicies?: { readonly settings: NetworkPolicySettings; readonly store: StoreReader<NetworkPolicyObject> };
}

interface Applied {
  readonly desired: string;
  readonly resourceVersion: string | undefined;
}

/** Pure: status entries to remove — gateways not live whose entry is older than the grace period. */
export function staleGatewayEntries(
  entries: readonly GatewayStatus[],
  livePods: ReadonlySet<string>,
  now: number,
  graceMs = STALE_GATEWAY_ENTRY_GRACE_MS,
): { index: number; pod: string; removableInMs: number }[] {
  const stale: { index: number; pod: string; removableInMs: number }[] = [];
  entries.forEach((entry, index) => {
    if (livePods.has(entry.pod)) return;
    const since = entry.since === undefined ? Number.NEGATIVE_INFINITY : Date.parse(entry.since);
    stale.push({ index, pod: entry.pod, removableInMs: Math.max(0, since + graceMs - now) });
  });
  return stale;
}

export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** Gateway ports this process allocated, by PortForward key (possibly not yet visible in the Service cache). */
  readonly #claims = new GatewayPortRecordIndex();
  /**
   * Gateway-port records of the cached Services, by Service key: built from the cache at the
   * first reconcile, then kept by a handler on the Services cache (see #portClaims).
   */
  readonly #serviceClaims = new GatewayPortRecordIndex();
  #serviceClaimsBuilt = false;
  readonly #appliedServices = new Map<string, Applied>();
  readonly #appliedSlices = new Map<string, Applied>();
  readonly #appliedPolicies = new Map<string, Applied>();
  /** When the first status write of a new PortForward began to be held, by key (first-status-hold.ts). */
  readonly #firstStatusHolds = new Map<string, number>();
  readonly #podObjects: PodObjectIndex;
  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#podObjects = new PodObjectIndex(deps.cache);
    deps.cache.services.addHandler(({ key, new: service }) => {
      if (this.#serviceClaimsBuilt) this.#serviceClaims.set(key, service === undefined ? [] : serviceGatewayPortRecords(service));
    });
  }

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult> {
    const { cache, clock } = this.#deps;
    const raw = cache.portForwards.get(key);
    if (raw === undefined || raw.metadata?.deletionTimestamp !== undefined) {
      // Garbage collection removes the Service and EndpointSlice (owner references); the
      // NetworkPolicy lives in another namespace and is deleted here.
      this.#forget(key);
      this.#deps.targets.release(key);
      await this.#deleteNetworkPolicy(key, signal);
      return { requeueAfterMs: 0 };
    }
    const parsed = cache.parsedPortForward(raw);
    if (!parsed.ok) {
      // The CRD schema admits only valid objects; this is a newer or hand-patched version.
      this.#deps.log.warn("PortForward does not match this controller's schema; skipped", {
        portforward: key,
        error: parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join(".")}: ${i.message}`)
          .join("; "),
      });
      return { requeueAfterMs: 0 };
    }
    const pf = parsed.value;
    const { namespace } = parseKey(key);
    const live = this.#deps.gateways.live();
    const now = clock.now();
    const observed: Observed = {
      portForward: pf,
      ...this.#deps.targets.observe(key, pf),
      localServices: cache.services.inNamespace(namespace ?? ""),
      ownService: cache.services.get(`${namespace ?? ""}/${serviceNameOf(pf)}`) ?? null,
      gatewayPortRecords: this.#portClaims(key),
      gatewayPortRange: this.#deps.portRange,
      gatewayEndpoints: live,
      gatewaysPerPortForward: this.#deps.gatewaysPerPortForward ?? 0,
      gatewayPods: live.map((g) => g.pod),
    };
    let planned = plan(observed, new Date(now));
    if (planned.status.ports !== undefined) {
      this.#claims.set(key, [
        ...planned.status.ports.map((p) => ({ owner: key, port: p.port, gatewayPort: p.gatewayPort })),
        ...(planned.status.podServices ?? []).flatMap((s) =>
          s.ports.map((p) => ({ owner: podOwnerKey(key, s.pod), port: p.port, gatewayPort: p.gatewayPort })),
        ),
      ]);
    }

    const cachedService = cache.services.get(serviceKey(planned.service));
    const policies = this.#deps.networkPolicies;
    const desiredPolicy =
      policies === undefined
        ? undefined
        : buildDesiredNetworkPolicy(
            pf,
            [...(planned.status.ports ?? []), ...(planned.status.podServices ?? []).flatMap((s) => s.ports)].map((p) => p.gatewayPort),
            policies.settings,
          );
    const [storedService] = await Promise.all([
      this.#applyIfChanged(this.#appliedServices, key, planned.service, "services", cachedService, signal),
      this.#applyIfChanged(
        this.#appliedSlices,
        key,
        planned.endpointSlice,
        "endpointslices",
        cache.endpointSlices.get(serviceKey(planned.endpointSlice)),
        signal,
      ),
      this.#applyIfChanged(
        this.#appliedPolicies,
        key,
        desiredPolicy,
        "networkpolicies",
        desiredPolicy === undefined ? undefined : policies?.store.get(serviceKey(desiredPolicy)),
        signal,
      ),
      this.#syncPodServices(key, pf, planned, signal),
    ]);
    if (storedService !== undefined && storedService.metadata?.resourceVersion !== cachedService?.metadata?.resourceVersion) {
      // Plan again with the Service as the API server stored it (it exists, and has its
      // clusterIP) rather than wait for the cache: a new PortForward then gets ServiceReady in its
      // first status write instead of a second write (and reconcile) once the cache catches up.
      // Only the local Services change: a remote PortForward's `services` are its remote cluster's.
      const others = (observed.localServices ?? []).filter((s) => serviceKey(s) !== serviceKey(storedService));
      planned = plan({ ...observed, localServices: [...others, storedService], ownService: storedService }, new Date(now));
    }
    // A new PortForward's first status waits for the gateways' report (first-status-hold.ts); its
    // Events wait with it, since they are the transitions from the status as stored.
    const holdMs = firstStatusHoldMs(pf, planned.status, live.length, this.#firstStatusHolds.get(key) ?? now, now);
    if (holdMs === undefined) this.#firstStatusHolds.delete(key);
    else if (!this.#firstStatusHolds.has(key)) this.#firstStatusHolds.set(key, now);
    const writeStatus = async () => {
      if (isStatusUnchanged(pf.status, planned.status)) return;
      await applyStatus(
        this.#deps.kubeConfig,
        {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: pf.metadata.name ?? "", namespace: namespace ?? "" },
          status: planned.status,
        },
        { plural: PLURAL, fieldManager: CONTROLLER_FIELD_MANAGER, signal },
      );
    };
    // Events are best effort (recordEvents never rejects), so they need not wait for the status.
    if (holdMs !== undefined) return { requeueAfterMs: Math.min(planned.requeueAfterMs, holdMs) };
    await Promise.all([writeStatus(), this.#recordEvents(pf, planned)]);
    this.#deps.conditionMetrics?.record(key, planned.status.conditions ?? []);
    const cleanupInMs = await this.#removeStaleGatewayEntries(pf, new Set(live.map((g) => g.pod)), now, signal);
    return { requeueAfterMs: cleanupInMs === undefined ? planned.requeueAfterMs : Math.min(planned.requeueAfterMs, cleanupInMs + 1_000) };
  }

  #forget(key: string): void {
    this.#deps.conditionMetrics?.forget(key);
    this.#claims.delete(key);
    this.#firstStatusHolds.delete(key);
    this.#appliedServices.delete(key);
    this.#appliedSlices.delete(key);
    this.#appliedPolicies.delete(key);
    for (const applied of [this.#appliedServices, this.#appliedSlices]) {
      for (const appliedKey of applied.keys()) if (appliedKey.startsWith(`${key}/`)) applied.delete(appliedKey);
    }
  }

  /** Applies the per-pod Services and EndpointSlices that changed and deletes the unwanted ones. */
  async #syncPodServices(key: string, pf: PortForward, planned: Plan, signal: AbortSignal | undefined): Promise<void> {
    const { cache, log } = this.#deps;
    if (planned.podServicesError !== undefined) {
      log.warn("Per-pod Services left as they are", { portforward: key, reason: planned.podServicesError });
    }
    if (planned.podServices === undefined) return;
    // Nothing to apply and nothing of this PortForward's in the cache to delete: skip the scan.
    if (planned.podServices.length === 0 && !this.#podObjects.has(key)) return;
    const { namespace } = parseKey(key);
    const apply = <T extends V1Service | V1EndpointSlice>(
      applied: Map<string, Applied>,
      desired: T,
      plural: string,
      cached: T | undefined,
    ) => this.#applyIfChanged(applied, `${key}/${desired.metadata?.name}`, desired, plural, cached, signal);
    const deleted = await syncPodServices({
      kubeConfig: this.#deps.kubeConfig,
      portForward: pf,
      desired: planned.podServices,
      services: cache.services.inNamespace(namespace ?? ""),
      endpointSlices: cache.endpointSlices.inNamespace(namespace ?? ""),
      isOwned: (object) => isServiceOwnedBy(object, pf),
      applyService: (service) => apply(this.#appliedServices, service, "services", cache.services.get(serviceKey(service))),
      applyEndpointSlice: (slice) => apply(this.#appliedSlices, slice, "endpointslices", cache.endpointSlices.get(serviceKey(slice))),
      signal,
    });
    for (const name of deleted.services) this.#appliedServices.delete(`${key}/${name}`);
    for (const name of deleted.endpointSlices) this.#appliedSlices.delete(`${key}/${name}`);
    if (deleted.services.length > 0) {
      log.info("Deleted per-pod Services that are no longer wanted", { portforward: key, services: deleted.services });
    }
  }

  async #deleteNetworkPolicy(key: string, signal: AbortSignal | undefined): Promise<void> {
    const policies = this.#deps.networkPolicies;
    if (policies === undefined) return;
    const { namespace, name } = parseKey(key);
    const policyName = networkPolicyNameOf(namespace ?? "", name);
    if (policies.store.get(`${policies.settings.namespace}/${policyName}`) === undefined) return;
    try {
      await kubeRequest(this.#deps.kubeConfig, {
        method: "DELETE",
        path: resourcePath({
          apiVersion: "networking.k8s.io/v1",
          plural: "networkpolicies",
          namespace: policies.settings.namespace,
          name: policyName,
        }),
        signal,
      });
      this.#deps.log.info("Deleted NetworkPolicy of a PortForward that is gone", { portforward: key, networkPolicy: policyName });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * Every claim on gateway ports as `key`'s reconcile sees it: the cached Services' records, and
   * the allocations of other in-flight reconciles whose owner has no Service in the cache yet
   * (per record: a PortForward's Service may be cached before its per-pod Services).
   */
  #portClaims(key: string): GatewayPortClaims {
    if (!this.#serviceClaimsBuilt) {
      for (const service of this.#deps.cache.services.list()) {
        this.#serviceClaims.set(serviceKey(service), serviceGatewayPortRecords(service));
      }
      this.#serviceClaimsBuilt = true;
    }
    const services = this.#serviceClaims;
    const records = (entries: readonly SourcedRecord[]) => entries.map((entry) => entry.record);
    const pending = (entries: readonly SourcedRecord[]) =>
      entries.filter((entry) => entry.source !== key && !services.hasOwner(entry.record.owner)).map((entry) => entry.record);
    return {
      ownedBy: (owner) => [...records(services.ownedBy(owner)), ...pending(this.#claims.ownedBy(owner))],
      on: (gatewayPort) => [...records(services.on(gatewayPort)), ...pending(this.#claims.on(gatewayPort))],
      all: () => [...records(services.all()), ...pending(this.#claims.all())],
    };
  }

  /** Applies `desired` unless it is what was last applied and still stored; returns the stored object when applied. */
  async #applyIfChanged<T extends V1Service | V1EndpointSlice | NetworkPolicyObject>(
    applied: Map<string, Applied>,
    key: string,
    desired: T | undefined,
    plural: string,
    cached: { metadata?: { resourceVersion?: string } } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T | undefined> {
    if (desired === undefined) return undefined;
    const json = JSON.stringify(desired);
    const last = applied.get(key);
    if (last !== undefined && last.desired === json && cached !== undefined && cached.metadata?.resourceVersion === last.resourceVersion) {
      return undefined;
    }
    const stored = await applyObject<T>(this.#deps.kubeConfig, desired as ApplyTarget, {
      plural,
      fieldManager: CONTROLLER_FIELD_MANAGER,
      signal,
    });
    applied.set(key, { desired: json, resourceVersion: stored.metadata?.resourceVersion });
    return stored;
  }

  /** Returns ms until the next stale entry may be removed, if any waits. */
  async #removeStaleGatewayEntries(
    pf: PortForward,
    livePods: ReadonlySet<string>,
    now: number,
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const stale = staleGatewayEntries(pf.status?.gateways ?? [], livePods, now);
    const due = stale.filter((s) => s.removableInMs === 0).sort((a, b) => b.index - a.index);
    if (due.length > 0) {
      // `test` guards each removal: if the list moved under us, the patch fails and we retry.
      const patch = due.flatMap((s) => [
        { op: "test", path: `/status/gateways/${s.index}/pod`, value: s.pod },
        { op: "remove", path: `/status/gateways/${s.index}` },
      ]);
      await kubeRequest(this.#deps.kubeConfig, {
        method: "PATCH",
        path: resourcePath({
          apiVersion: API_VERSION,
          plural: PLURAL,
          namespace: pf.metadata.namespace,
          name: pf.metadata.name,
          subresource: "status",
        }),
        query: { fieldManager: CONTROLLER_FIELD_MANAGER },
        contentType: "application/json-patch+json",
        body: patch,
        signal,
      });
      this.#deps.log.info("Removed status entries of gateways that are gone", {
        portforward: `${pf.metadata.namespace}/${pf.metadata.name}`,
        gateways: due.map((s) => s.pod),
      });
    }
    const waiting = stale.filter((s) => s.removableInMs > 0).map((s) => s.removableInMs);
    return waiting.length === 0 ? undefined : Math.min(...waiting);
  }

  async #recordEvents(pf: PortForward, planned: Plan): Promise<void> {
    for (const event of planned.events) {
      try {
        await this.#deps.events.record(
          {
            apiVersion: API_VERSION,
            kind: KIND,
            name: pf.metadata.name ?? "",
            namespace: pf.metadata.namespace ?? "",
            ...(pf.metadata.uid === undefined ? {} : { uid: pf.metadata.uid }),
          },
          event,
        );
      } catch (error) {
        // An Event is best effort: losing one must not fail (and retry) the reconcile.
        this.#deps.log.warn("Failed to record Event", { reason: event.reason, error });
      }
    }
  }
}

function serviceKey(object: { metadata?: { name?: string; namespace?: string } } | undefined): string {
  return `${object?.metadata?.namespace ?? ""}/${object?.metadata?.name ?? ""}`;
}
