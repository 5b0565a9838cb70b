/**
 * Which target pod a new client connection goes to (spec.loadBalancing). Pure: the caller passes
 * the candidates in a stable order (by pod name) and keeps the round-robin cursor.
 *
 * - RoundRobin: the next candidate after the one picked last (by name, so the rotation survives
 *   candidates coming and going).
 * - LeastConnections: the fewest active connections; ties go to the round-robin order.
 * - First: the first candidate by name, so all traffic sticks to one pod while it is usable.
 */
import type { LoadBalancing } from "../api/spec.ts";

export interface Candidate {
  readonly pod: string;
  readonly activeConnections: number;
}

/** Picks a candidate; `lastPicked` is the pod name picked last (the round-robin cursor). */
export function pickTarget<C extends Candidate>(
  candidates: readonly C[],
  policy: LoadBalancing,
  lastPicked: string | undefined,
): C | undefined {
  if (candidates.length === 0) return undefined;
  if (policy === "First") return candidates[0];
  const after = lastPicked === undefined ? -1 : candidates.findIndex((c) => c.pod > lastPicked) - 1;
  const start = after < -1 ? candidates.length - 1 : after;
  const rotation = candidates.map((_, i) => candidates[(start + 1 + i) % candidates.length]!);
  if (policy === "RoundRobin") return rotation[0];
  let best = rotation[0]!;
  for (const candidate of rotation) if (candidate.activeConnections < best.activeConnections) best = candidate;
  return best;
}
