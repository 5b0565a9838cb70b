/**
 * Before the operator starts: the namespaces its Leases live in must exist, or every heartbeat
 * and election attempt fails with a bare 404 while PortForwards sit NotReady (issue #9).
 *
 * - `run` (a cluster of one's own) creates a missing namespace and says so;
 * - `controller` and `gateway` (the chart's Deployments) fail at once with one line naming the
 *   namespace and the flag that chooses another.
 * Without permission to read namespaces (the chart's least-privilege RBAC) nothing is checked:
 * a pod's own namespace exists by definition.
 */
import type { KubeConnection } from "../kube/connection.ts";
import { isAlreadyExists, isForbidden, isNotFound } from "../kube/errors.ts";
import { kubeRequest } from "../kube/request.ts";
import type { Logger } from "../observability/log.ts";
import { CommandError } from "./command-error.ts";

export interface RequiredNamespace {
  readonly namespace: string;
  /** The flag that sets it, for the error message. */
  readonly flag: string;
}

export async function ensureNamespaces(
  kubeConfig: KubeConnection,
  required: readonly RequiredNamespace[],
  options: { readonly create: boolean; readonly log: Logger },
): Promise<void> {
  const seen = new Set<string>();
  for (const { namespace, flag } of required) {
    if (seen.has(namespace)) continue;
    seen.add(namespace);
    try {
      await kubeRequest(kubeConfig, { method: "GET", path: `/api/v1/namespaces/${encodeURIComponent(namespace)}` });
      continue;
    } catch (error) {
      if (isForbidden(error)) {
        options.log.debug("Could not check the namespace (no permission to read namespaces)", { namespace });
        continue;
      }
      if (!isNotFound(error)) throw error;
    }
    if (!options.create) {
      throw new CommandError(
        `namespace "${namespace}" not found; create it (kubectl create namespace ${namespace}) or choose another with ${flag}`,
      );
    }
    try {
      await kubeRequest(kubeConfig, {
        method: "POST",
        path: "/api/v1/namespaces",
        body: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      });
      options.log.info("Created namespace", { namespace, reason: `${flag} names it and it did not exist` });
    } catch (error) {
      if (isAlreadyExists(error)) continue;
      if (isForbidden(error)) {
        throw new CommandError(`namespace "${namespace}" not found and not allowed to create it; create it or choose another with ${flag}`);
      }
      throw error;
    }
  }
}
