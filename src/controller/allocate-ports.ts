/**
 * Gateway port allocation: every forwarded port of every PortForward gets its own port on the
 * (shared) gateway pods, and the Service's targetPort points at it.
 *
 * There is no allocation table: the Services the controller applied are the record (each owned
 * Service's port → targetPort). Guarantees:
 * - stable: a port keeps the gateway port its Service already targets, across restarts;
 * - collision-free: no gateway port is given to two PortForwards; if two records claim the same
 *   port (two reconciles raced before either Service was observed), the older Service keeps it
 *   (ties broken by key) and the other moves, so both sides agree without coordination;
 * - deterministic: a new port starts probing at a hash of `namespace/name:port`, so concurrent
 *   reconciles of different PortForwards rarely pick the same port in the first place.
 * Callers that reconcile concurrently should add their in-flight allocations to `records`.
 *
 * A per-pod Service (spec.service.perPod) claims its gateway ports under an owner of its own,
 * `namespace/name/pod` (podOwnerKey; names cannot contain '/'), read back from its
 * tunnelkeeper.io/pod label: each (pod, port) gets its own gateway port with the same guarantees,
 * and no claim of one pod is ever mistaken for the PortForward's or another pod's.
 */
import type { V1Service } from "@kubernetes/client-node";
import { Reason } from "../api/conditions.ts";
import { KIND, LABEL_MANAGED_BY, LABEL_POD, LABEL_PORTFORWARD, MANAGED_BY_VALUE } from "../api/identity.ts";
import { claimsOf, type GatewayPortClaims } from "./gateway-port-claims.ts";

export interface PortRange {
  min: number;
  max: number;
}

export const DEFAULT_GATEWAY_PORT_RANGE: PortRange = { min: 20000, max: 29999 };

/** One existing claim: PortForward `owner` (namespace/name) forwards Service `port` via `gatewayPort`. */
export interface GatewayPortRecord {
  owner: string;
  port: number;
  gatewayPort: number;
  /** When the claim was made (the Service's creationTimestamp, epoch ms); unknown means newest. */
  since?: number;
}

export interface PortAllocation {
  name?: string;
  port: number;
  gatewayPort: number;
}

export type AllocationResult = { ok: true; ports: PortAllocation[] } | { ok: false; reason: typeof Reason.PortsExhausted; message: string };

/** The PortForward key (`namespace/name`) used as the owner of gateway ports. */
export function ownerKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

/** The owner of the gateway ports of PortForward `owner`'s per-pod Service for `pod`. */
export function podOwnerKey(owner: string, pod: string): string {
  return `${owner}/${pod}`;
}

function toEpochMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Reads the gateway-port records from the Services tunnelkeeper manages (others are ignored). */
export function gatewayPortRecords(services: readonly V1Service[]): GatewayPortRecord[] {
  return services.flatMap(serviceGatewayPortRecords);
}

/** The gateway-port records of one Service: none unless tunnelkeeper manages it. */
export function serviceGatewayPortRecords(service: V1Service): GatewayPortRecord[] {
  const labels = service.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED_BY] !== MANAGED_BY_VALUE) return [];
  const controller = service.metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === KIND);
  const name = controller?.name ?? labels[LABEL_PORTFORWARD];
  if (name === undefined) return [];
  const pod = labels[LABEL_POD];
  const portForward = ownerKey(service.metadata?.namespace, name);
  const owner = pod === undefined ? portForward : podOwnerKey(portForward, pod);
  const since = toEpochMs(service.metadata?.creationTimestamp as Date | string | undefined);
  const records: GatewayPortRecord[] = [];
  for (const port of service.spec?.ports ?? []) {
    if (typeof port.targetPort !== "number") continue;
    records.push({ owner, port: port.port, gatewayPort: port.targetPort, ...(since === undefined ? {} : { since }) });
  }
  return records;
}

/** FNV-1a, 32 bit: a stable, well-spread hash for the first probe position. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function isOlder(a: GatewayPortRecord, b: GatewayPortRecord): boolean {
  const sa = a.since ?? Number.POSITIVE_INFINITY;
  const sb = b.since ?? Number.POSITIVE_INFINITY;
  if (sa !== sb) return sa < sb;
  return a.owner < b.owner;
}

/** Claims as a list or already indexed (gateway-port-claims.ts). */
export type GatewayPortClaimsInput = readonly GatewayPortRecord[] | GatewayPortClaims;

/** The claims of `input`, indexed. */
export function toGatewayPortClaims(input: GatewayPortClaimsInput): GatewayPortClaims {
  return isClaimsList(input) ? claimsOf(input) : input;
}

/** Every claim of `input`, as a list. */
export function gatewayPortClaimList(input: GatewayPortClaimsInput): readonly GatewayPortRecord[] {
  return isClaimsList(input) ? input : input.all();
}

function isClaimsList(input: GatewayPortClaimsInput): input is readonly GatewayPortRecord[] {
  return Array.isArray(input);
}

/**
 * Allocates one gateway port per entry of `ports` for PortForward `owner`.
 * `records` are all current claims, the owner's own included.
 */
export function allocateGatewayPorts(
  owner: string,
  ports: readonly { name?: string; port: number }[],
  records: GatewayPortClaimsInput,
  range: PortRange = DEFAULT_GATEWAY_PORT_RANGE,
): AllocationResult {
  const claims = toGatewayPortClaims(records);
  const inRange = (p: number) => Number.isInteger(p) && p >= range.min && p <= range.max;
  const others = (gatewayPort: number) => claims.on(gatewayPort).filter((r) => r.owner !== owner);
  const own = claims.ownedBy(owner);
  const used = new Set<number>();
  const keepsClaim = (mine: GatewayPortRecord) =>
    inRange(mine.gatewayPort) && !used.has(mine.gatewayPort) && !others(mine.gatewayPort).some((other) => isOlder(other, mine));

  const gatewayPorts: (number | undefined)[] = ports.map((port) => {
    const mine = own.find((r) => r.port === port.port && keepsClaim(r));
    if (mine === undefined) return undefined;
    used.add(mine.gatewayPort);
    return mine.gatewayPort;
  });

  const size = range.max - range.min + 1;
  for (const [index, port] of ports.entries()) {
    if (gatewayPorts[index] !== undefined) continue;
    const start = fnv1a(`${owner}:${port.port}`) % size;
    let chosen: number | undefined;
    for (let step = 0; step < size; step++) {
      const candidate = range.min + ((start + step) % size);
      if (!used.has(candidate) && !claims.on(candidate).some((r) => r.owner !== owner)) {
        chosen = candidate;
        break;
      }
    }
    if (chosen === undefined) {
      return {
        ok: false,
        reason: Reason.PortsExhausted,
        message: `All ${size} gateway ports (${range.min}-${range.max}) are in use; widen the controller's gateway port range or remove unused PortForwards.`,
      };
    }
    used.add(chosen);
    gatewayPorts[index] = chosen;
  }

  return {
    ok: true,
    ports: ports.map((port, index) => ({
      ...(port.name === undefined ? {} : { name: port.name }),
      port: port.port,
      gatewayPort: gatewayPorts[index]!,
    })),
  };
}
