/**
 * `LeaseClient` (runtime/leader-election.ts) over `coordination.k8s.io/v1` Leases.
 *
 * Times: client-node 2.x does not deserialize `V1MicroTime` (it is absent from its type map), so
 * read values may be strings or Dates; both are converted to epoch ms. Written values are
 * `V1MicroTime` instances, whose JSON form has the six fractional digits the API server requires.
 */
import { type CoordinationV1Api, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { LeaseClient, LeaseRecord } from "../runtime/leader-election.ts";
import { isNotFound } from "./errors.ts";

function toMs(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = new Date(value as string | Date).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

export function leaseToRecord(lease: V1Lease): LeaseRecord {
  return {
    holderIdentity: lease.spec?.holderIdentity ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
    acquireTime: toMs(lease.spec?.acquireTime),
    renewTime: toMs(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

export function recordToLease(name: string, namespace: string, record: LeaseRecord): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: record.acquireTime === undefined ? undefined : new V1MicroTime(record.acquireTime),
      renewTime: record.renewTime === undefined ? undefined : new V1MicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

export function kubeLeaseClient(api: CoordinationV1Api, namespace: string, name: string): LeaseClient {
  return {
    async get() {
      try {
        return leaseToRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async create(record) {
      return leaseToRecord(await api.createNamespacedLease({ namespace, body: recordToLease(name, namespace, record) }));
    },
    async update(record) {
      return leaseToRecord(await api.replaceNamespacedLease({ name, namespace, body: recordToLease(name, namespace, record) }));
    },
  };
}
