/**
 * What is wrong with a remote cluster, as a condition reason and a message that says what to do.
 * Pure: it reads errors and access-review answers, never makes a request.
 *
 * Precedence, from what a person must fix first: the kubeconfig Secret (RemoteKubeconfigInvalid),
 * the network path (RemoteUnreachable), the server's certificate (RemoteTLSFailed), the
 * credentials (RemoteUnauthorized), then RBAC in the remote cluster (RemoteForbidden, naming each
 * missing verb). RemoteConnecting is the only transient state: credentials accepted, caches not
 * yet listed.
 */
import { Reason } from "../api/conditions.ts";
import { isForbidden, isTlsErrorCode, isUnauthorized, networkErrorCodeOf } from "../kube/errors.ts";
import type { RemoteReason } from "../targets/resolve-targets.ts";
import type { CacheKind } from "../watch/cluster-cache.ts";

export type { RemoteReason };

export interface RemoteProblem {
  readonly reason: RemoteReason;
  readonly message: string;
}

/** Where the remote cluster is, for messages: its API server and the namespace used there. */
export interface RemoteWhere {
  readonly server: string;
  readonly namespace: string;
}

/** One permission the remote identity needs, as a SelfSubjectAccessReview asks for it. */
export interface RemoteAccess {
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly verb: string;
}

const KIND_RESOURCES: Readonly<Record<CacheKind, { group: string; resource: string }>> = {
  portforwards: { group: "tunnelkeeper.io", resource: "portforwards" },
  pods: { group: "", resource: "pods" },
  services: { group: "", resource: "services" },
  endpointslices: { group: "discovery.k8s.io", resource: "endpointslices" },
  deployments: { group: "apps", resource: "deployments" },
  statefulsets: { group: "apps", resource: "statefulsets" },
  replicasets: { group: "apps", resource: "replicasets" },
  daemonsets: { group: "apps", resource: "daemonsets" },
};

/**
 * What the remote identity needs in its namespace: list and watch of every kind the targets
 * resolve through, and `create` + `get` of pods/portforward (a WebSocket port-forward is a GET
 * upgrade, so since Kubernetes 1.35's AuthorizePodWebsocketUpgradeCreatePermission it needs both).
 */
export function requiredAccess(kinds: readonly CacheKind[]): RemoteAccess[] {
  const watched = kinds.flatMap((kind) => ["list", "watch"].map((verb) => ({ ...KIND_RESOURCES[kind], verb })));
  return [
    ...watched,
    { group: "", resource: "pods", subresource: "portforward", verb: "create" },
    { group: "", resource: "pods", subresource: "portforward", verb: "get" },
  ];
}

export function describeAccess(access: RemoteAccess): string {
  const resource = access.subresource === undefined ? access.resource : `${access.resource}/${access.subresource}`;
  return `${access.verb} ${access.group === "" ? resource : `${resource}.${access.group}`}`;
}

export function forbiddenProblem(missing: readonly RemoteAccess[], where: RemoteWhere): RemoteProblem {
  const verbs = missing.map(describeAccess).join(", ");
  return {
    reason: Reason.RemoteForbidden,
    message: `The remote cluster's identity may not ${verbs} in namespace "${where.namespace}" of ${where.server}; grant it a Role there with these verbs (docs/remote-clusters.md lists them).`,
  };
}

export function kubeconfigProblem(message: string): RemoteProblem {
  return { reason: Reason.RemoteKubeconfigInvalid, message };
}

/** A failed request to the remote API server, classified. */
export function requestProblem(error: unknown, where: RemoteWhere): RemoteProblem {
  if (isUnauthorized(error)) {
    return {
      reason: Reason.RemoteUnauthorized,
      message: `${where.server} rejected the kubeconfig's credentials (401 Unauthorized): the token or certificate is expired or revoked; put valid credentials in the Secret.`,
    };
  }
  if (isForbidden(error)) {
    return {
      reason: Reason.RemoteForbidden,
      message: `${where.server} refused a request in namespace "${where.namespace}" (403 Forbidden); grant the remote identity the Role in docs/remote-clusters.md.`,
    };
  }
  const code = networkErrorCodeOf(error);
  if (code !== undefined && isTlsErrorCode(code)) {
    return {
      reason: Reason.RemoteTLSFailed,
      message: `The TLS handshake with ${where.server} failed (${code}); set certificate-authority-data in the kubeconfig to the CA that signed the remote API server's certificate.`,
    };
  }
  return {
    reason: Reason.RemoteUnreachable,
    message: `${where.server} cannot be reached${code === undefined ? "" : ` (${code})`}; check the kubeconfig's server address and that the gateway and controller pods can reach it (egress NetworkPolicy, firewall).`,
  };
}
