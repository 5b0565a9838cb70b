/**
 * Names of the per-pod Services (spec.service.perPod). Pure.
 *
 * Rule (also the field's description in spec.ts): `<service name>-<suffix>`, where the suffix is
 * the pod name's last segment after its last '-' or '.'. For a StatefulSet pod that is the
 * ordinal (`kafka-0` behind Service `kafka` → `kafka-0`), which is what makes the names stable:
 * the pod of an ordinal keeps its name across restarts and reschedules. For other pods it is the
 * random suffix (`api-7d9f8-x2k4q` → `api-x2k4q`), stable for that pod's life.
 *
 * Guarantees:
 * - every name is a DNS-1035 label of at most 63 characters: the service name is a DNS-1035
 *   label (starts with a letter), the suffix is [a-z0-9]+, and the service name is cut (and any
 *   '-' it then ends with dropped) so the whole fits;
 * - no two target pods get the same name: a suffix that several target pods share is kept by the
 *   pod whose Service already has that name, else by the first pod by name; the others (and any
 *   pod whose suffix is longer than MAX_SUFFIX) get `<suffix>-<hash of the pod name>` instead;
 * - a pod's name changes only if it loses its suffix to a pod that already had the Service.
 * Caveat: a pod-derived name can still equal a Service the PortForward does not own; such a
 * Service is never taken over (the caller checks ownership).
 */

/** Longer suffixes are replaced by a hash, so the service name keeps most of its length. */
export const MAX_SUFFIX = 20;
const MAX_NAME = 63;

/** FNV-1a, 32 bit, as 8 hex digits: a stable, short disambiguator. */
function hash8(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** The pod name's last segment after its last '-' or '.' (the ordinal of a StatefulSet pod). */
export function podNameSuffix(pod: string): string {
  const segments = pod.toLowerCase().split(/[-.]/);
  return segments[segments.length - 1] || hash8(pod);
}

/** `<service>-<suffix>`, the service name cut so the result is at most 63 characters. */
function joinName(serviceName: string, suffix: string): string {
  const room = MAX_NAME - 1 - suffix.length;
  const base = serviceName.slice(0, room).replace(/-+$/, "");
  return `${base}-${suffix}`;
}

function hashedSuffix(pod: string): string {
  const suffix = podNameSuffix(pod);
  return suffix.length > MAX_SUFFIX ? hash8(pod) : `${suffix}-${hash8(pod)}`;
}

/** The name a pod's Service gets when no other target pod shares its suffix. */
export function podServiceName(serviceName: string, pod: string): string {
  const suffix = podNameSuffix(pod);
  return joinName(serviceName, suffix.length > MAX_SUFFIX ? hash8(pod) : suffix);
}

/**
 * The Service name of every pod in `pods` (each once), disambiguated as the header says.
 * `existing` maps a per-pod Service name this PortForward already has to the pod it routes to.
 */
export function podServiceNames(
  serviceName: string,
  pods: readonly string[],
  existing: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const byName = new Map<string, string[]>();
  for (const pod of [...new Set(pods)].sort()) {
    const name = podServiceName(serviceName, pod);
    byName.set(name, [...(byName.get(name) ?? []), pod]);
  }
  const names = new Map<string, string>();
  for (const [name, claimants] of byName) {
    const holder = existing.get(name);
    const keeper = holder !== undefined && claimants.includes(holder) ? holder : claimants[0]!;
    for (const pod of claimants) names.set(pod, pod === keeper ? name : joinName(serviceName, hashedSuffix(pod)));
  }
  return names;
}
