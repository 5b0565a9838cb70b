/**
 * The access decision for one client connection (pure): may this source address use this
 * PortForward? `spec.access` (api/access.ts) states the peers; this module only evaluates them.
 *
 * Contract:
 * - A peer with a selector matches only a source the gateway can attribute to a pod (the peer
 *   cache knows the address as exactly one running, non-hostNetwork pod). It then matches on the
 *   pod's namespace and labels, and, for namespaceSelector, the namespace's labels; a namespace
 *   whose labels are unknown matches no namespaceSelector (fail closed).
 * - An ipBlock peer matches the address itself, attributed or not (SNAT, node addresses,
 *   clients outside the cluster are only ever admitted this way).
 * - No peers (`spec.access` absent): pods of the PortForward's own namespace.
 * - Loopback sources (127.0.0.0/8, ::1) are always allowed: they can only come from inside the
 *   gateway's own network namespace — the gateway pod itself in a cluster, or the machine that
 *   runs `tunnelkeeper run` (whose listeners bind 127.0.0.1), whose user already holds the
 *   kubeconfig. Reported as peer -2.
 * - Denials carry a reason from a closed set (they label a metric): `source_unknown` when the
 *   address is no pod the gateway knows and no ipBlock matches, `peer_not_allowed` when it is a
 *   known pod that no peer admits.
 */
import { type IPBlock, type Peer, parseCidr, parseIp } from "../api/access.ts";
import { matchesSelector } from "../targets/label-selector.ts";

/** What the gateway knows about the pod behind a source address. */
export interface PeerPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface AccessRequest {
  /** The connection's remote address as the socket reports it (IPv4, IPv6 or IPv4-mapped IPv6). */
  readonly source: string;
  /** The pod this address belongs to, if the peer cache can attribute it. */
  readonly pod: PeerPod | undefined;
  /** Labels of a namespace, if known. */
  readonly namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  /** The PortForward's namespace (the default peer, and the scope of a lone podSelector). */
  readonly namespace: string;
  /** `spec.access.from`; undefined means the default. */
  readonly peers: readonly Peer[] | undefined;
}

export const DENIAL_REASONS = ["source_unknown", "peer_not_allowed"] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export type AccessDecision =
  | { readonly allowed: true /** Index in spec.access.from; -1 for the default peer, -2 for loopback. */; readonly peer: number }
  | { readonly allowed: false; readonly reason: DenialReason };

export function decideAccess(request: AccessRequest): AccessDecision {
  const { pod, peers, namespace } = request;
  const address = parseIp(request.source);
  if (address !== undefined && isLoopback(address)) return { allowed: true, peer: -2 };
  if (peers === undefined) {
    if (pod?.namespace === namespace) return { allowed: true, peer: -1 };
    return { allowed: false, reason: pod === undefined ? "source_unknown" : "peer_not_allowed" };
  }
  for (const [index, peer] of peers.entries()) {
    if (peer.ipBlock !== undefined) {
      if (address !== undefined && isInIpBlock(address, peer.ipBlock)) return { allowed: true, peer: index };
      continue;
    }
    if (pod !== undefined && matchesPodPeer(peer, pod, request)) return { allowed: true, peer: index };
  }
  return { allowed: false, reason: pod === undefined ? "source_unknown" : "peer_not_allowed" };
}

function isLoopback(address: { family: 4 | 6; bits: bigint }): boolean {
  return address.family === 4 ? address.bits >> 24n === 127n : address.bits === 1n;
}

function matchesPodPeer(peer: Peer, pod: PeerPod, request: AccessRequest): boolean {
  if (peer.namespaceSelector === undefined) {
    if (pod.namespace !== request.namespace) return false;
  } else {
    const labels = request.namespaceLabels(pod.namespace);
    if (labels === undefined || !matchesSelector(peer.namespaceSelector, labels)) return false;
  }
  return peer.podSelector === undefined || matchesSelector(peer.podSelector, pod.labels);
}

function isInIpBlock(address: { family: 4 | 6; bits: bigint }, block: IPBlock): boolean {
  if (!inCidr(address, block.cidr)) return false;
  return !(block.except ?? []).some((except) => inCidr(address, except));
}

function inCidr(address: { family: 4 | 6; bits: bigint }, cidr: string): boolean {
  const range = parseCidr(cidr);
  if (range === undefined || range.family !== address.family) return false;
  const shift = BigInt((address.family === 4 ? 32 : 128) - range.prefix);
  return address.bits >> shift === range.bits >> shift;
}

/** Canonical text of an address for logs and caches: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
