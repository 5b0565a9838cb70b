/**
 * `LeaseClient` (runtime/leader-election.ts) over `coordination.k8s.io/v1` Leases.
 *
 * Requests are raw JSON (kube/request.ts). Times: read values are RFC 3339 strings, converted to
 * epoch ms; written values are MicroTime strings, with the six fractional digits the API server
 * requires (`formatMicroTime`).
 */
import type { LeaseClient, LeaseRecord } from "../runtime/leader-election.ts";
import type { KubeConnection } from "./connection.ts";
import { isNotFound } from "./errors.ts";
import { formatMicroTime } from "./events.ts";
import { kubeRequest, resourcePath } from "./request.ts";

/** A coordination.k8s.io/v1 Lease as JSON: the fields we read and write. */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function toMs(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = new Date(value as string | Date).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

export function leaseToRecord(lease: LeaseObject): LeaseRecord {
  return {
    holderIdentity: lease.spec?.holderIdentity ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
    acquireTime: toMs(lease.spec?.acquireTime),
    renewTime: toMs(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

export function recordToLease(name: string, namespace: string, record: LeaseRecord): LeaseObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: record.acquireTime === undefined ? undefined : formatMicroTime(record.acquireTime),
      renewTime: record.renewTime === undefined ? undefined : formatMicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  };
}

export function kubeLeaseClient(connection: KubeConnection, namespace: string, name: string): LeaseClient {
  const collection = resourcePath({ apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace });
  const item = resourcePath({ apiVersion: "coordination.k8s.io/v1", plural: "leases", namespace, name });
  return {
    async get() {
      try {
        return leaseToRecord((await kubeRequest(connection, { method: "GET", path: item })) as LeaseObject);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async create(record) {
      const body = recordToLease(name, namespace, record);
      return leaseToRecord((await kubeRequest(connection, { method: "POST", path: collection, body })) as LeaseObject);
    },
    async update(record) {
      const body = recordToLease(name, namespace, record);
      return leaseToRecord((await kubeRequest(connection, { method: "PUT", path: item, body })) as LeaseObject);
    },
  };
}
