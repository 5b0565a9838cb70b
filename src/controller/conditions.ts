/**
 * Pure helpers for status conditions (metav1.Condition shape).
 *
 * Guarantees: `lastTransitionTime` changes only when a condition's status flips; every condition
 * set carries the generation it was computed for; kstatus' abnormal-true conditions
 * (Reconciling, Stalled, Degraded) are present only while true. Inputs are never mutated.
 */
import type { ConditionStatus } from "../api/conditions.ts";
import type { Condition } from "../api/status.ts";

const MAX_MESSAGE_LENGTH = 32768;

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Formats a time as metav1.Time does: RFC 3339 in UTC with whole seconds. */
export function formatTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

/**
 * Returns `conditions` with `next` set: an existing condition of the same type is replaced in
 * place (keeping its `lastTransitionTime` unless the status flips), a new one is appended.
 */
export function setCondition(
  conditions: readonly Condition[],
  next: ConditionInput,
  now: Date,
  generation: number | undefined,
): Condition[] {
  const previous = findCondition(conditions, next.type);
  const condition: Condition = {
    type: next.type,
    status: next.status,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    lastTransitionTime: previous !== undefined && previous.status === next.status ? previous.lastTransitionTime : formatTime(now),
    reason: next.reason,
    message: next.message.length > MAX_MESSAGE_LENGTH ? next.message.slice(0, MAX_MESSAGE_LENGTH) : next.message,
  };
  if (previous === undefined) return [...conditions, condition];
  return conditions.map((existing) => (existing.type === next.type ? condition : existing));
}

export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((condition) => condition.type !== type);
}

/**
 * Sets an abnormal-true condition (kstatus Reconciling/Stalled, or Degraded): with a cause it is
 * set to True; without one it is removed rather than set to False.
 */
export function setAbnormalCondition(
  conditions: readonly Condition[],
  type: string,
  cause: { reason: string; message: string } | undefined,
  now: Date,
  generation: number | undefined,
): Condition[] {
  if (cause === undefined) return removeCondition(conditions, type);
  return setCondition(conditions, { type, status: "True", reason: cause.reason, message: cause.message }, now, generation);
}
