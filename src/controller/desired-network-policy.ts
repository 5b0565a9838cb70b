/**
 * The NetworkPolicy a PortForward should have on the gateway pods (pure), for CNIs that enforce
 * NetworkPolicies: it admits, on exactly the PortForward's gateway ports, exactly the peers of
 * spec.access. With the chart's default-deny policy for gateway ingress (which admits only the
 * metrics/health port), a client that spec.access does not admit is then dropped by the network
 * before it reaches the gateway; the gateway's own check (gateway/access-decision.ts) stands
 * either way.
 *
 * The policy lives in the gateway namespace (a NetworkPolicy selects pods of its own namespace),
 * so it cannot carry an owner reference to the PortForward (owner references never cross
 * namespaces). It is "owned" like the Service in every other respect: applied by the controller's
 * field manager, repaired when it drifts, and deleted when its PortForward is gone — found by the
 * labels and the `tunnelkeeper.io/portforward-key` annotation set here (reconciler.ts).
 *
 * Translation (peers are relative to the PortForward's namespace, the policy's namespace is the
 * gateway's): a lone podSelector and the default (no spec.access) get a namespaceSelector on
 * `kubernetes.io/metadata.name` = the PortForward's namespace; namespaceSelector and ipBlock
 * peers are copied as they are.
 */
import { createHash } from "node:crypto";
import type { V1NetworkPolicyPeer } from "@kubernetes/client-node";
import type { Peer } from "../api/access.ts";
import {
  ANNOTATION_PORTFORWARD_KEY,
  LABEL_MANAGED_BY,
  LABEL_PORTFORWARD,
  LABEL_PORTFORWARD_NAMESPACE,
  MANAGED_BY_VALUE,
} from "../api/identity.ts";
import type { PortForward } from "../api/portforward.ts";

const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * networking.k8s.io/v1 NetworkPolicy as the API's JSON has it (client-node's V1NetworkPolicy
 * spells `from` as `_from`, which only its own serializer understands).
 */
export interface NetworkPolicyObject {
  apiVersion: "networking.k8s.io/v1";
  kind: "NetworkPolicy";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    resourceVersion?: string;
  };
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: ["Ingress"];
    ingress: { ports: { protocol: "TCP"; port: number }[]; from: V1NetworkPolicyPeer[] }[];
  };
}

export interface NetworkPolicySettings {
  /** Where the gateway pods run (the policy's namespace). */
  readonly namespace: string;
  /** Labels that select the gateway pods. */
  readonly gatewayPodLabels: Readonly<Record<string, string>>;
}

/** `pf.<namespace>.<name>` (unique: namespaces have no dots), hashed when longer than 253. */
export function networkPolicyNameOf(namespace: string, name: string): string {
  const plain = `pf.${namespace}.${name}`;
  if (plain.length <= 253) return plain;
  const hash = createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 10);
  return `${plain.slice(0, 242).replace(/[.-]+$/, "")}.${hash}`;
}

/** The peers of spec.access as NetworkPolicy peers of a policy in the gateway namespace. */
export function networkPolicyPeers(namespace: string, peers: readonly Peer[] | undefined): V1NetworkPolicyPeer[] {
  const own = { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } };
  if (peers === undefined) return [{ namespaceSelector: own }];
  return peers.map((peer): V1NetworkPolicyPeer => {
    if (peer.ipBlock !== undefined) {
      return { ipBlock: { cidr: peer.ipBlock.cidr, ...(peer.ipBlock.except === undefined ? {} : { except: [...peer.ipBlock.except] }) } };
    }
    return {
      namespaceSelector: peer.namespaceSelector ?? own,
      ...(peer.podSelector === undefined ? {} : { podSelector: peer.podSelector }),
    };
  });
}

export function buildDesiredNetworkPolicy(
  pf: PortForward,
  gatewayPorts: readonly number[],
  settings: NetworkPolicySettings,
): NetworkPolicyObject {
  const namespace = pf.metadata.namespace ?? "";
  const name = pf.metadata.name ?? "";
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: networkPolicyNameOf(namespace, name),
      namespace: settings.namespace,
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY_VALUE,
        [LABEL_PORTFORWARD_NAMESPACE]: namespace,
        ...(name.length <= 63 ? { [LABEL_PORTFORWARD]: name } : {}),
      },
      annotations: { [ANNOTATION_PORTFORWARD_KEY]: `${namespace}/${name}` },
    },
    spec: {
      podSelector: { matchLabels: { ...settings.gatewayPodLabels } },
      policyTypes: ["Ingress"],
      // No allocated port yet: no rule, so the policy admits nothing extra.
      ingress:
        gatewayPorts.length === 0
          ? []
          : [
              {
                ports: [...gatewayPorts].sort((a, b) => a - b).map((port) => ({ protocol: "TCP", port })),
                from: networkPolicyPeers(namespace, pf.spec.access?.from),
              },
            ],
    },
  };
}
