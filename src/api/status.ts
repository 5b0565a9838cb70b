/**
 * zod schema of `PortForward.status`.
 *
 * Ownership (server-side apply): the controller owns everything except `gateways`; each gateway
 * replica owns exactly its own `gateways` entry (listType=map keyed on `pod`) under the field
 * manager `tunnelkeeper-gateway/<pod>`. The controller reads gateway entries and derives
 * `targets[].gateways`, `totals` and the Ready condition from them.
 */
import { z } from "zod";

const CONDITION_TYPE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

const timestamp = (description: string) =>
  z
    .string()
    .refine((v) => !Number.isNaN(Date.parse(v)), { message: "must be an RFC 3339 timestamp" })
    .meta({ description, format: "date-time" });

const counter = (description: string) => z.int().min(0).meta({ description, format: "int64" });

/** The metav1.Condition shape, with the same constraints as Kubernetes' own types. */
export const ConditionSchema = z
  .object({
    type: z.string().max(316).regex(CONDITION_TYPE).meta({ description: "Type of the condition, in CamelCase." }),
    status: z.enum(["True", "False", "Unknown"]).meta({ description: "Status of the condition: True, False or Unknown." }),
    observedGeneration: counter("metadata.generation that the condition was set for.").optional(),
    lastTransitionTime: timestamp("When the condition last changed from one status to another."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON)
      .meta({ description: "Programmatic identifier of the condition's last transition, in CamelCase." }),
    message: z.string().max(32768).meta({ description: "Human-readable details, saying what to do if something is wrong." }),
  })
  .meta({ description: "A condition in the metav1.Condition shape." });

export const PortStatusSchema = z
  .object({
    name: z.string().max(63).optional().meta({ description: "Name of the Service port." }),
    port: z.int().min(1).max(65535).meta({ description: "Service port (spec.ports[].port)." }),
    gatewayPort: z
      .int()
      .min(1)
      .max(65535)
      .meta({ description: "Port on the gateway pods that the Service's port targets; allocated by the controller." }),
  })
  .meta({ description: "A forwarded port and the gateway port allocated to it." });

export const PodServiceStatusSchema = z
  .object({
    pod: z.string().max(253).meta({ description: "Name of the target pod this Service routes to." }),
    service: z.string().max(63).meta({ description: "Name of the pod's own Service (spec.service.perPod)." }),
    ports: z.array(PortStatusSchema).meta({
      description: "The Service's ports with the gateway ports allocated to them for this pod.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["port"],
    }),
  })
  .meta({ description: "The Service of one target pod (spec.service.perPod)." });

export const TargetStatusSchema = z
  .object({
    pod: z.string().max(253).meta({ description: "Name of the target pod." }),
    ready: z.boolean().meta({
      description: "Whether the pod is ready (and so receives new connections; see servedNotReady for the exception).",
    }),
    servedNotReady: z.boolean().optional().meta({
      description:
        "True when the pod is not ready but receives new connections anyway, because spec.includeNotReadyPods is set and the pod is Running; absent otherwise.",
    }),
    gateways: z
      .array(z.string().max(253).meta({ description: "Name of a gateway pod." }))
      .optional()
      .meta({
        description: "Gateway pods that hold a live tunnel to this pod.",
        "x-kubernetes-list-type": "set",
      }),
  })
  .meta({ description: "One resolved target pod." });

export const GATEWAY_PROTOCOLS = ["Tunnel", "Legacy"] as const;
export type GatewayProtocol = (typeof GATEWAY_PROTOCOLS)[number];

export const LastDeniedSchema = z
  .object({
    time: timestamp("When the connection was refused."),
    source: z.string().max(64).meta({ description: "The client's address as the gateway saw it." }),
    client: z
      .string()
      .max(317)
      .optional()
      .meta({ description: "The client pod, namespace/name, when the gateway could attribute the address." }),
    reason: z.enum(["SourceUnknown", "PeerNotAllowed"]).meta({
      description:
        "SourceUnknown: the address is no pod the gateway knows (outside the cluster, SNAT, a node) and no ipBlock admits it; PeerNotAllowed: a known pod that no peer of spec.access admits.",
    }),
  })
  .meta({ description: "The latest connection this gateway refused." });

export const GatewayStatusSchema = z
  .object({
    pod: z.string().max(253).meta({ description: "Name of the gateway pod that reports this entry (and owns it)." }),
    connected: z.boolean().meta({ description: "Whether this gateway holds at least one live tunnel to a target pod." }),
    connectedTargets: z
      .array(z.string().max(253).meta({ description: "Name of a target pod." }))
      .optional()
      .meta({
        description: "Target pods to which this gateway holds a live tunnel.",
        "x-kubernetes-list-type": "set",
      }),
    protocol: z.enum(GATEWAY_PROTOCOLS).optional().meta({
      description:
        "Protocol in use: Tunnel (SPDY/3.1 over one WebSocket, KEP-4006) or Legacy (v4.channel.k8s.io, one WebSocket per connection).",
    }),
    activeConnections: counter(
      "Client connections open through this gateway as of its last report. Counters alone are written at most every 5 s, and less often on a replica that serves more busy PortForwards than its --counter-writes-per-second allows; state changes are written at once.",
    ).default(0),
    reconnects: counter("Tunnel reconnects by this gateway since it started.").default(0),
    reason: z.string().max(1024).regex(CONDITION_REASON).optional().meta({
      description:
        "CamelCase reason for the current state when not connected, e.g. Forbidden, Reconnecting, or Suspended (spec.suspend: tunnels and listeners closed).",
    }),
    lastError: z.string().max(4096).optional().meta({ description: "Last tunnel error seen by this gateway." }),
    deniedConnections: counter(
      "Client connections this gateway refused because spec.access does not admit them, since it started.",
    ).optional(),
    lastDenied: LastDeniedSchema.optional(),
    since: timestamp("When `connected` last changed.").optional(),
  })
  .meta({ description: "State of the tunnels of one gateway replica, written by that replica." });

export const TotalsSchema = z
  .object({
    pods: counter("Target pods resolved."),
    readyPods: counter("Target pods that are ready."),
    connectedPods: counter(
      "Target pods that receive new connections (ready ones, and with spec.includeNotReadyPods Running ones) to which at least one gateway holds a live tunnel.",
    ),
    gateways: counter("Gateway replicas reporting."),
    connectedGateways: counter("Gateway replicas holding at least one live tunnel."),
    activeConnections: counter("Client connections open through all gateways, as of their last reports."),
    reconnects: counter("Tunnel reconnects summed over all gateways."),
  })
  .meta({ description: "Totals derived from targets and gateways." });

export const PortForwardStatusSchema = z
  .object({
    observedGeneration: counter("metadata.generation that this status describes.").optional(),
    conditions: z
      .array(ConditionSchema)
      .optional()
      .meta({
        description:
          "Conditions: Ready (summary), Reconciling and Stalled (kstatus; present only while true), TargetResolved, TunnelConnected, ServiceReady, Degraded (present only while true).",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
      }),
    target: z.string().max(512).optional().meta({ description: "The target, in kubectl form, e.g. deployment/api." }),
    pods: z.string().max(32).optional().meta({
      description:
        "Ready and total target pods, e.g. 2/3 (for display); with spec.includeNotReadyPods, also the not-ready pods that are served, e.g. 2/3 (+1 not ready).",
    }),
    serviceName: z.string().max(63).optional().meta({ description: "Name of the Service that exposes the ports." }),
    clusterIP: z.string().max(64).optional().meta({ description: "Cluster IP of the Service." }),
    ports: z
      .array(PortStatusSchema)
      .optional()
      .meta({
        description: "Forwarded ports with their allocated gateway ports.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port"],
      }),
    podServices: z
      .array(PodServiceStatusSchema)
      .optional()
      .meta({
        description:
          "With spec.service.perPod: the Service of each target pod and its gateway ports, sorted by pod name. The gateways listen on these ports.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["pod"],
      }),
    targets: z
      .array(TargetStatusSchema)
      .optional()
      .meta({
        description: "Resolved target pods, sorted by name; at most 256 are listed, totals count all.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["pod"],
      }),
    gateways: z
      .array(GatewayStatusSchema)
      .optional()
      .meta({
        description: "One entry per gateway replica, each written by that replica under its own field manager.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["pod"],
      }),
    assignedGateways: z.array(z.string().max(253)).max(64).optional().meta({
      description:
        "The gateway replicas (pod names, sorted) that serve this PortForward: they keep its tunnels open and the Service routes to them. The controller picks at most --gateways-per-portforward of the live replicas by rendezvous hashing; the others open a tunnel only for a connection that reaches them anyway and close it when idle. Absent while no gateway is live, when every replica serves.",
      "x-kubernetes-list-type": "set",
    }),
    totals: TotalsSchema.optional(),
    lastHandledReconcileAt: z.string().max(256).optional().meta({
      description:
        "Value of the reconcile-request annotation (tunnelkeeper.io/reconcile-requested-at, else reconcile.fluxcd.io/requestedAt) that the controller last handled, as Flux reports it. A new value makes the controller reconcile at once and each gateway redial, right away and with its backoff reset, the tunnels that are not open (backing off after a failure); open tunnels are kept, since redialling them would cut live connections.",
    }),
  })
  .meta({ description: "Observed state of the port-forward, written by the controller and the gateways." });

export type Condition = z.output<typeof ConditionSchema>;
export type PortStatus = z.output<typeof PortStatusSchema>;
export type PodServiceStatus = z.output<typeof PodServiceStatusSchema>;
export type TargetStatus = z.output<typeof TargetStatusSchema>;
export type GatewayStatus = z.output<typeof GatewayStatusSchema>;
export type Totals = z.output<typeof TotalsSchema>;
export type PortForwardStatus = z.output<typeof PortForwardStatusSchema>;
