/**
 * Building blocks of update predicates (pure): which parts of an object an update changed.
 * Each watcher decides which changes concern it (controller/portforward-changes.ts,
 * gateway/portforward-changes.ts); what they all read is here.
 */
import type { KubeObject } from "./store.ts";

/** Equal by value as JSON (API objects are JSON); identical references short-cut. */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether the object became another one or was asked to do something: a new generation (the
 * spec), deletion, a new uid (deleted and created again under the name), or other annotations
 * (a reconcile request is one).
 */
export function specOrIdentityChanged(old: KubeObject, next: KubeObject): boolean {
  const a = old.metadata ?? {};
  const b = next.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    a.uid !== b.uid ||
    !sameJson(a.annotations, b.annotations)
  );
}
