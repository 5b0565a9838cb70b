/**
 * zod schema of `PortForward.spec`: the single source of truth for the spec's shape, defaults,
 * descriptions and validation. The CRD in `crds/` is generated from it (scripts/generate-crds.ts).
 *
 * Targets always live in the PortForward's own namespace: no field names another namespace, so
 * a PortForward can never reach across namespaces.
 */
import { z } from "zod";
import { AccessSchema, EXTERNAL_NEEDS_IPBLOCK, EXTERNAL_NEEDS_IPBLOCK_RULE, hasRequiredIpBlock } from "./access.ts";
import { LabelSelectorRequirementSchema, MAX_LABELS } from "./label-selector.ts";
import { boundedDuration, celRegex, celRules, DNS1123_LABEL, dns1035Label, dns1123Label, dns1123Subdomain } from "./validation.ts";

export const MAX_PORTS = 64;
export const MIN_PORT = 1;
export const MAX_PORT = 65535;

const stringMap = (description: string) =>
  z
    .record(z.string().min(1).max(317), z.string().max(4096))
    .refine((value) => Object.keys(value).length <= MAX_LABELS, {
      message: `at most ${MAX_LABELS} entries are allowed`,
    })
    .meta({ description, maxProperties: MAX_LABELS });

const SELECTOR_NOT_EMPTY =
  "selector must have at least one matchLabels entry or matchExpressions item: an empty selector would match every pod in the namespace";

export const LabelSelectorSchema = z
  .object({
    matchLabels: stringMap("Pods must carry all of these labels with exactly these values.").optional(),
    matchExpressions: z
      .array(LabelSelectorRequirementSchema)
      .max(16)
      .optional()
      .meta({ description: "Pods must satisfy all of these requirements." }),
  })
  .refine((s) => Object.keys(s.matchLabels ?? {}).length > 0 || (s.matchExpressions?.length ?? 0) > 0, { message: SELECTOR_NOT_EMPTY })
  .meta({
    description: "Forward to the pods in this namespace that match this label selector (matchLabels and matchExpressions are ANDed).",
    ...celRules({
      rule: "(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",
      message: SELECTOR_NOT_EMPTY,
    }),
  });

export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const WorkloadRefSchema = z
  .object({
    kind: z.enum(WORKLOAD_KINDS).meta({
      description: "Kind of the workload (apps/v1): Deployment, StatefulSet, ReplicaSet or DaemonSet.",
    }),
    name: dns1123Subdomain("spec.target.workload.name", "Name of the workload in the PortForward's namespace."),
  })
  .meta({
    description: "Forward to the pods of this workload, found through the workload's own label selector.",
  });

const TARGET_EXACTLY_ONE = "spec.target must set exactly one of pod, selector, service or workload";

export const TargetSchema = z
  .object({
    pod: dns1123Subdomain("spec.target.pod", "Forward to this one pod, by name, in the PortForward's namespace.").optional(),
    selector: LabelSelectorSchema.optional(),
    service: dns1035Label(
      "spec.target.service",
      "Forward to the pods behind this Service, found through its EndpointSlices; ports[].targetPort then names a port of this Service (by number or name), as with kubectl port-forward svc/NAME.",
    ).optional(),
    workload: WorkloadRefSchema.optional(),
  })
  .refine((t) => [t.pod, t.selector, t.service, t.workload].filter((v) => v !== undefined).length === 1, { message: TARGET_EXACTLY_ONE })
  .meta({
    description:
      "What to forward to: exactly one of pod, selector, service or workload. Targets are always in the PortForward's own namespace; there is no namespace field, so a PortForward can never reach another namespace.",
    ...celRules({
      rule: "(has(self.pod) ? 1 : 0) + (has(self.selector) ? 1 : 0) + (has(self.service) ? 1 : 0) + (has(self.workload) ? 1 : 0) == 1",
      message: TARGET_EXACTLY_ONE,
    }),
  });

const PROTOCOL_TCP_ONLY = "protocol must be TCP: pods/portforward carries TCP only, so UDP and SCTP ports cannot be forwarded";
const TARGET_PORT_NAME_MESSAGE =
  "targetPort must be a port number from 1 to 65535 or a port name (a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters)";

export const TargetPortSchema = z
  .union([
    z
      .int({ message: TARGET_PORT_NAME_MESSAGE })
      .min(MIN_PORT, { message: TARGET_PORT_NAME_MESSAGE })
      .max(MAX_PORT, { message: TARGET_PORT_NAME_MESSAGE }),
    z
      .string({ message: TARGET_PORT_NAME_MESSAGE })
      .min(1, { message: TARGET_PORT_NAME_MESSAGE })
      .max(63, { message: TARGET_PORT_NAME_MESSAGE })
      .refine((v) => DNS1123_LABEL.test(v), { message: TARGET_PORT_NAME_MESSAGE }),
  ])
  .meta({
    maxLength: 63,
    description:
      "Port on the target: a number, or a name. For pod, selector and workload targets a name refers to a named container port; for a service target the number or name refers to a port of that Service, mapped to the pods' port through the Service and its EndpointSlices.",
    ...celRules({
      rule: `type(self) == int ? (self >= ${MIN_PORT} && self <= ${MAX_PORT}) : (type(self) == string && self.matches(${celRegex(DNS1123_LABEL)}))`,
      message: TARGET_PORT_NAME_MESSAGE,
    }),
  });

export const PortSchema = z
  .object({
    name: dns1035Label(
      "spec.ports[].name",
      "Name of the port on the Service. Required when more than one port is listed (Kubernetes Services require it).",
    ).optional(),
    port: z
      .int()
      .min(MIN_PORT)
      .max(MAX_PORT)
      .meta({ description: "Port that the Service exposes to clients (1-65535); unique within spec.ports." }),
    targetPort: TargetPortSchema,
    protocol: z
      .string()
      .max(16)
      .refine((v) => v === "TCP", { message: PROTOCOL_TCP_ONLY })
      .default("TCP")
      .meta({
        description: "Protocol of the port. Only TCP is possible: pods/portforward carries TCP only.",
        ...celRules({ rule: "self == 'TCP'", message: PROTOCOL_TCP_ONLY }),
      }),
  })
  .meta({ description: "One forwarded port: Service port → target port." });

const PORTS_NOT_EMPTY = "spec.ports must list at least one port";
const PORT_NAMES_UNIQUE = "spec.ports[].name must be unique: each port name may appear only once";
const PORT_NUMBERS_UNIQUE = "spec.ports[].port must be unique: each Service port may appear only once";
const PORT_NAMES_REQUIRED =
  "every entry of spec.ports needs a name when more than one port is listed (Kubernetes Services require named ports)";

export const PortsSchema = z
  .array(PortSchema)
  .min(1, { message: PORTS_NOT_EMPTY })
  .max(MAX_PORTS)
  .refine((ports) => new Set(ports.map((p) => p.port)).size === ports.length, { message: PORT_NUMBERS_UNIQUE })
  .refine(
    (ports) => {
      const names = ports.flatMap((p) => (p.name === undefined ? [] : [p.name]));
      return new Set(names).size === names.length;
    },
    { message: PORT_NAMES_UNIQUE },
  )
  .refine((ports) => ports.length <= 1 || ports.every((p) => p.name !== undefined), {
    message: PORT_NAMES_REQUIRED,
  })
  .meta({
    description: "Ports to forward; at least one. Each becomes a port of the Service.",
    minItems: 1,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["port"],
    ...celRules(
      { rule: "size(self) >= 1", message: PORTS_NOT_EMPTY },
      { rule: "self.all(p, self.exists_one(q, q.port == p.port))", message: PORT_NUMBERS_UNIQUE },
      {
        rule: "self.all(p, !has(p.name) || self.exists_one(q, has(q.name) && q.name == p.name))",
        message: PORT_NAMES_UNIQUE,
      },
      { rule: "size(self) <= 1 || self.all(p, has(p.name))", message: PORT_NAMES_REQUIRED },
    ),
  });

export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

const PER_POD_DESCRIPTION =
  "Also give every target pod a Service of its own that routes only to that pod (for StatefulSets such as Kafka, Cassandra or a database primary and replicas, whose members must each be addressable), alongside the Service over all pods. Each is named <service name>-<suffix>, where the suffix is the last segment of the pod name after its last '-' or '.': the ordinal for a StatefulSet pod (kafka-0 behind Service kafka gets kafka-0), the random suffix for a Deployment pod. The Service name is shortened so the whole stays a DNS-1035 label of at most 63 characters; a suffix longer than 20 characters, or one that two target pods share, is replaced (for all but the pod whose Service already has the name, else the first by name) by the suffix plus a hash of the pod name. A per-pod Service has the type, labels and annotations of the main one, exists while its pod is a target (ready or not; a pod that is not ready gets connections held and then refused as when no pod is ready) and is deleted when the pod stops being a target or perPod is turned off. At most 256 target pods get one. status.podServices lists them with their gateway ports. Default false.";

export const ServiceSpecSchema = z
  .object({
    name: dns1035Label(
      "spec.service.name",
      "Name of the Service to create; defaults to the PortForward's name. A Service of this name that this PortForward does not own is never taken over.",
    ).optional(),
    type: z.enum(SERVICE_TYPES).default("ClusterIP").meta({
      description: "Type of the Service: ClusterIP (default), NodePort or LoadBalancer.",
    }),
    labels: stringMap(
      "Extra labels for the Service. Argo CD's tracking label (app.kubernetes.io/instance) and tunnelkeeper's own labels are never taken from here.",
    ).optional(),
    annotations: stringMap(
      "Extra annotations for the Service, e.g. for a cloud load balancer. Argo CD's tracking annotation is never taken from here.",
    ).optional(),
    perPod: z.boolean().default(false).meta({ description: PER_POD_DESCRIPTION }),
  })
  .prefault({})
  .meta({ description: "The stable Service through which clients reach the forwarded ports." });

export const LOAD_BALANCING = ["RoundRobin", "LeastConnections", "First"] as const;
export type LoadBalancing = (typeof LOAD_BALANCING)[number];

export const TUNNEL_PROTOCOLS = ["Auto", "Tunnel", "Legacy"] as const;
export type TunnelProtocolSetting = (typeof TUNNEL_PROTOCOLS)[number];

export const KeepaliveSchema = z
  .object({
    interval: boundedDuration(
      "spec.keepalive.interval",
      "1s",
      "10m",
      "How often each tunnel is pinged to detect dead connections and keep idle proxies from closing it (1s to 10m).",
    ).default("10s"),
  })
  .prefault({})
  .meta({ description: "Keepalive of the tunnels to the API server." });

export const SecretKeyRefSchema = z
  .object({
    name: dns1123Subdomain(
      "spec.cluster.kubeconfigSecretRef.name",
      "Name of the Secret in the PortForward's namespace (Secrets in other namespaces cannot be referenced).",
    ),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .default("kubeconfig")
      .meta({ description: "Key in the Secret's data that holds the kubeconfig; defaults to kubeconfig." }),
  })
  .meta({ description: "A key of a Secret in the PortForward's own namespace." });

const CLUSTER_NAMESPACE_NEEDS_SECRET =
  "spec.cluster.namespace needs spec.cluster.kubeconfigSecretRef: it names a namespace of the remote cluster";

export const ClusterSchema = z
  .object({
    kubeconfigSecretRef: SecretKeyRefSchema.optional(),
    namespace: dns1123Label(
      "spec.cluster.namespace",
      "Namespace of the target in the remote cluster; defaults to the kubeconfig context's namespace, else the PortForward's namespace.",
    ).optional(),
  })
  .refine((cluster) => cluster.namespace === undefined || cluster.kubeconfigSecretRef !== undefined, {
    message: CLUSTER_NAMESPACE_NEEDS_SECRET,
    path: ["namespace"],
  })
  .meta({
    ...celRules({ rule: "!has(self.namespace) || has(self.kubeconfigSecretRef)", message: CLUSTER_NAMESPACE_NEEDS_SECRET }),
    description:
      "Which cluster the target lives in. Without it, the cluster the operator runs in. A kubeconfig Secret (inline token or client certificate; exec plugins and file references are refused) lets the controller and gateways reach pods in another cluster through that cluster's API server only; the Service stays in this cluster.",
  });

export const PortForwardSpecSchema = z
  .object({
    target: TargetSchema,
    ports: PortsSchema,
    service: ServiceSpecSchema,
    loadBalancing: z.enum(LOAD_BALANCING).default("RoundRobin").meta({
      description:
        "How new connections pick among ready target pods: RoundRobin (default), LeastConnections or First (always the first ready pod, by name).",
    }),
    keepalive: KeepaliveSchema,
    protocol: z.enum(TUNNEL_PROTOCOLS).default("Auto").meta({
      description:
        "Tunnel protocol to the API server: Auto (default) tries the multiplexed SPDY-over-WebSocket tunnel and falls back to the legacy v4.channel.k8s.io WebSocket; Tunnel or Legacy force one.",
    }),
    cluster: ClusterSchema.optional(),
    access: AccessSchema.optional(),
    suspend: z.boolean().optional().meta({
      description:
        "Suspend the forward (Flux's field name): while true, every gateway closes this PortForward's tunnels and listeners, so connections to its ports are refused at once, and Ready is False with reason Suspended (neither Stalled nor Reconciling: kstatus Current). The Service, its EndpointSlice and the allocated gateway ports (status.ports) are kept, so setting it to false (or removing it) resumes on the same ports.",
    }),
    includeNotReadyPods: z.boolean().optional().meta({
      description:
        "Also serve target pods that are Running but not ready, for debugging (like a Service's publishNotReadyAddresses). Pods that are not Running, or are terminating, are never served. status.pods and the Ready and TargetResolved messages say how many not-ready pods are served.",
    }),
  })
  .refine(hasRequiredIpBlock, { message: EXTERNAL_NEEDS_IPBLOCK, path: ["access"] })
  .meta({
    description: "Desired port-forward: what to forward to, which ports, the Service to expose them, and who may connect.",
    ...celRules(EXTERNAL_NEEDS_IPBLOCK_RULE),
  });

export type PortForwardSpec = z.output<typeof PortForwardSpecSchema>;
export type PortForwardSpecInput = z.input<typeof PortForwardSpecSchema>;
export type Target = z.output<typeof TargetSchema>;
export type PortSpec = z.output<typeof PortSchema>;
export type LabelSelector = z.output<typeof LabelSelectorSchema>;
