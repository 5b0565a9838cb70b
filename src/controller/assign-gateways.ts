/**
 * Which gateway replicas serve a PortForward: the tunnel budget (pure).
 *
 * Every serving replica holds one tunnel per ready target pod, and every tunnel is a connection
 * the API server keeps open (goroutines and memory, measured in docs/benchmarks.md). Were every
 * replica to serve every PortForward, that cost would grow as PortForwards × pods × replicas;
 * with at most `perPortForward` replicas each it grows as PortForwards × pods × perPortForward,
 * however many replicas run.
 *
 * The replicas are chosen by rendezvous (highest-random-weight) hashing: each live replica gets a
 * score from a hash of (PortForward, replica), and the `perPortForward` highest scores win. So:
 * - every process computes the same answer from the same live set, with no state to store;
 * - the load spreads evenly over the replicas;
 * - when a replica joins or leaves, only the PortForwards it wins or held move (about
 *   perPortForward / replicas of them), so a rollout does not re-dial every tunnel.
 * The assignment is published in `status.assignedGateways`, and the Service's EndpointSlice lists
 * only these replicas; the others stand by (see gateway/forwarder.ts: they open tunnels only for
 * a connection that reaches them anyway, and close them when idle).
 *
 * `perPortForward` 0 means every live replica (no budget). The PortForward is identified by its
 * UID when it has one (a re-created PortForward of the same name may land elsewhere), else by
 * namespace/name.
 */
import { createHash } from "node:crypto";
import type { PortForward } from "../api/portforward.ts";
import { byPod } from "../runtime/order.ts";
import type { GatewayEndpoint } from "./desired-endpoint-slice.ts";

/** The default of `--gateways-per-portforward`: two replicas, so one can fail or roll without a gap. */
export const DEFAULT_GATEWAYS_PER_PORTFORWARD = 2;

/** The replicas that serve `pf`, sorted by pod name. */
export function assignGateways(pf: PortForward, live: readonly GatewayEndpoint[], perPortForward: number): GatewayEndpoint[] {
  if (perPortForward <= 0 || live.length <= perPortForward) return [...live].sort(byPod);
  const id = pf.metadata.uid ?? `${pf.metadata.namespace ?? ""}/${pf.metadata.name}`;
  return live
    .map((gateway) => ({ gateway, score: scoreOf(id, gateway.pod) }))
    .sort((a, b) => (a.score === b.score ? byPod(a.gateway, b.gateway) : a.score < b.score ? 1 : -1))
    .slice(0, perPortForward)
    .map((s) => s.gateway)
    .sort(byPod);
}

/** The first 64 bits of SHA-256(id NUL pod): uniform, and the same in every process and release. */
function scoreOf(id: string, pod: string): bigint {
  return createHash("sha256").update(id).update("\0").update(pod).digest().readBigUInt64BE(0);
}
