/**
 * zod schema of `PortForward.spec.access`: who may connect to a PortForward's Service.
 *
 * The peers have the shape of NetworkPolicy `ingress[].from` (networking.k8s.io/v1
 * NetworkPolicyPeer), with the same meaning relative to the PortForward's namespace:
 * - `podSelector` alone: pods in the PortForward's namespace that match;
 * - `namespaceSelector` alone: every pod in the matching namespaces (`{}`: every namespace);
 * - both: matching pods in matching namespaces;
 * - `ipBlock` alone: source addresses in `cidr` but not in any `except` range, whoever they are.
 * Absent `access` (or `access.from`): pods of the PortForward's own namespace only.
 *
 * Deliberate departures from NetworkPolicy, because a wrong guess opens a database to the cluster:
 * an empty `from` list is rejected instead of meaning "everyone" (say `namespaceSelector: {}`
 * to mean every pod), and a peer must set at least one field.
 */
import { z } from "zod";
import { LabelSelectorRequirementSchema, MAX_LABELS } from "./label-selector.ts";
import { celRules } from "./validation.ts";

export const MAX_PEERS = 32;
export const MAX_EXCEPT = 32;

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** Parses `a.b.c.d/n` or an IPv6 CIDR into family, network bits and prefix; undefined if malformed. */
export function parseCidr(text: string): { family: 4 | 6; bits: bigint; prefix: number } | undefined {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return undefined;
  const address = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const width = address.family === 4 ? 32 : 128;
  if (prefix > width) return undefined;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix);
  return { family: address.family, bits: address.bits & mask, prefix };
}

/**
 * Parses an IPv4 or IPv6 address into its family and bits. An IPv4-mapped IPv6 address
 * (`::ffff:10.1.2.3`, what a dual-stack listener reports for IPv4 clients) is its IPv4 address.
 */
export function parseIp(text: string): { family: 4 | 6; bits: bigint } | undefined {
  if (IPV4.test(text)) return { family: 4, bits: text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n) };
  let zoneless = text.split("%")[0] ?? "";
  if (!/^[0-9a-fA-F:.]+$/.test(zoneless) || !zoneless.includes(":")) return undefined;
  const lastColon = zoneless.lastIndexOf(":");
  const tail = zoneless.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIp(tail);
    if (v4 === undefined || v4.family !== 4) return undefined;
    zoneless = `${zoneless.slice(0, lastColon + 1)}${(v4.bits >> 16n).toString(16)}:${(v4.bits & 0xffffn).toString(16)}`;
  }
  const halves = zoneless.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"));
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const total = left.length + right.length;
  if ((halves.length === 1 && total !== 8) || (halves.length === 2 && total > 7)) return undefined;
  const all = [...left, ...Array<string>(8 - total).fill("0"), ...right];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const values = all.map((g) => BigInt(Number.parseInt(g, 16)));
  const bits = values.reduce((acc, group) => (acc << 16n) | group, 0n);
  if (bits >> 32n === 0xffffn) return { family: 4, bits: bits & 0xffffffffn };
  return { family: 6, bits };
}

/** Whether CIDR `inner` lies inside CIDR `outer` (same family, longer or equal prefix). */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o === undefined || i === undefined || o.family !== i.family || i.prefix < o.prefix) return false;
  const width = o.family === 4 ? 32 : 128;
  return i.bits >> BigInt(width - o.prefix) === o.bits >> BigInt(width - o.prefix) || o.prefix === 0;
}

const CIDR_MESSAGE = "ipBlock.cidr must be a CIDR such as 10.0.0.0/8, 203.0.113.7/32 or 2001:db8::/32";
const EXCEPT_CIDR_MESSAGE = "every ipBlock.except entry must be a CIDR such as 10.1.0.0/16";
const EXCEPT_INSIDE_MESSAGE =
  "every ipBlock.except range must lie inside ipBlock.cidr (same address family, longer prefix): except carves holes out of cidr";

export const IPBlockSchema = z
  .object({
    cidr: z
      .string()
      .max(64)
      .refine((v) => parseCidr(v) !== undefined, { message: CIDR_MESSAGE })
      .meta({
        description:
          "Source addresses allowed, as a CIDR (e.g. 10.0.0.0/8 or 2001:db8::/32). Matches the address the gateway sees, whether or not it belongs to a pod.",
        ...celRules({ rule: "isCIDR(self)", message: CIDR_MESSAGE }),
      }),
    except: z
      .array(
        z
          .string()
          .max(64)
          .refine((v) => parseCidr(v) !== undefined, { message: EXCEPT_CIDR_MESSAGE })
          .meta({
            description: "A CIDR inside cidr whose addresses are not allowed.",
            ...celRules({ rule: "isCIDR(self)", message: EXCEPT_CIDR_MESSAGE }),
          }),
      )
      .max(MAX_EXCEPT)
      .optional()
      .meta({ description: "Ranges inside cidr that are not allowed." }),
  })
  .refine((b) => (b.except ?? []).every((e) => cidrContains(b.cidr, e)), { message: EXCEPT_INSIDE_MESSAGE })
  .meta({
    description:
      "Allow source addresses in a range (NetworkPolicy ipBlock). The only way to admit sources that are not pods the gateway can attribute: clients outside the cluster, SNATed traffic, node addresses.",
    ...celRules({
      rule: "!has(self.except) || !isCIDR(self.cidr) || self.except.all(e, !isCIDR(e) || (cidr(e).ip().family() == cidr(self.cidr).ip().family() && cidr(self.cidr).containsCIDR(e)))",
      message: EXCEPT_INSIDE_MESSAGE,
    }),
  });

/** A label selector where `{}` matches everything, as in NetworkPolicy peers. */
const peerSelector = (description: string) =>
  z
    .object({
      matchLabels: z
        .record(z.string().min(1).max(317), z.string().max(63))
        .refine((value) => Object.keys(value).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} entries are allowed` })
        .optional()
        .meta({ description: "Labels that must all be present with exactly these values.", maxProperties: MAX_LABELS }),
      matchExpressions: z
        .array(LabelSelectorRequirementSchema)
        .max(16)
        .optional()
        .meta({ description: "Requirements that must all be satisfied." }),
    })
    .meta({ description });

const PEER_ONE_KIND =
  "a peer sets either ipBlock, or namespaceSelector and/or podSelector, never ipBlock with a selector (as in NetworkPolicy); split it into two peers";
const PEER_NOT_EMPTY =
  "a peer must set podSelector, namespaceSelector or ipBlock; to allow every pod of the cluster write namespaceSelector: {}";

export const PeerSchema = z
  .object({
    podSelector: peerSelector(
      "Pods that may connect. Alone: pods of the PortForward's namespace that match. With namespaceSelector: matching pods in the matching namespaces. {} matches every pod.",
    ).optional(),
    namespaceSelector: peerSelector(
      "Namespaces whose pods may connect, by namespace label (every namespace has kubernetes.io/metadata.name=<name>). {} matches every namespace.",
    ).optional(),
    ipBlock: IPBlockSchema.optional(),
  })
  .refine((p) => p.podSelector !== undefined || p.namespaceSelector !== undefined || p.ipBlock !== undefined, {
    message: PEER_NOT_EMPTY,
  })
  .refine((p) => p.ipBlock === undefined || (p.podSelector === undefined && p.namespaceSelector === undefined), {
    message: PEER_ONE_KIND,
  })
  .meta({
    description: "One allowed peer, in the shape of a NetworkPolicy peer (networking.k8s.io/v1 NetworkPolicyPeer).",
    ...celRules(
      { rule: "has(self.podSelector) || has(self.namespaceSelector) || has(self.ipBlock)", message: PEER_NOT_EMPTY },
      { rule: "!has(self.ipBlock) || (!has(self.podSelector) && !has(self.namespaceSelector))", message: PEER_ONE_KIND },
    ),
  });

const FROM_NOT_EMPTY =
  "spec.access.from must list at least one peer: omit spec.access for the default (this namespace only), or write namespaceSelector: {} to allow every pod of the cluster";

export const AccessSchema = z
  .object({
    from: z
      .array(PeerSchema)
      .min(1, { message: FROM_NOT_EMPTY })
      .max(MAX_PEERS)
      .optional()
      .meta({
        description:
          "Peers that may connect; a connection is allowed if it matches any of them. Absent: only pods of the PortForward's own namespace. Unlike NetworkPolicy, an empty list is refused rather than meaning everyone.",
        minItems: 1,
        ...celRules({ rule: "size(self) >= 1", message: FROM_NOT_EMPTY }),
      }),
  })
  .meta({
    description:
      "Who may connect to the forwarded ports. Enforced by the gateway on every connection (traffic reaches the target through the kubelet, so the target namespace's NetworkPolicies never see it) and, for CNIs that enforce them, by NetworkPolicies the controller maintains on the gateway pods. Without it, only pods of the PortForward's own namespace may connect.",
  });

/** Service types reachable from outside the cluster, which must name their sources. */
export const EXTERNAL_SERVICE_TYPES: readonly string[] = ["NodePort", "LoadBalancer"];

export const EXTERNAL_NEEDS_IPBLOCK =
  "spec.service.type NodePort or LoadBalancer is reachable from outside the cluster, where clients are addresses rather than pods: list the allowed client ranges in spec.access.from[].ipBlock (e.g. cidr: 198.51.100.0/24); 0.0.0.0/0 opens the forward to the world and has to be written out";

/** Whether the spec may be served: external Service types need at least one ipBlock peer. */
export function hasRequiredIpBlock(spec: { service?: { type?: string }; access?: { from?: readonly { ipBlock?: unknown }[] } }): boolean {
  if (!EXTERNAL_SERVICE_TYPES.includes(spec.service?.type ?? "ClusterIP")) return true;
  return (spec.access?.from ?? []).some((p) => p.ipBlock !== undefined);
}

/** The CEL rule on spec mirroring {@link hasRequiredIpBlock}. */
export const EXTERNAL_NEEDS_IPBLOCK_RULE = {
  rule: "!has(self.service) || !has(self.service.type) || self.service.type == 'ClusterIP' || (has(self.access) && has(self.access.from) && self.access.from.exists(p, has(p.ipBlock)))",
  message: EXTERNAL_NEEDS_IPBLOCK,
} as const;

export type Access = z.output<typeof AccessSchema>;
export type Peer = z.output<typeof PeerSchema>;
export type IPBlock = z.output<typeof IPBlockSchema>;
