/**
 * What each command is, which flags it takes (with defaults as help prints them) and an example,
 * in one table: config.ts parses with it, help.ts renders it, so the two cannot disagree.
 */
import type { FlagSpec } from "./flags.ts";

export const COMMANDS = ["controller", "gateway", "run", "forward", "version", "help"] as const;
export type Command = (typeof COMMANDS)[number];

export interface Example {
  readonly comment: string;
  /** Arguments after the program name. */
  readonly args: string;
}

export interface CommandSpec {
  readonly name: Command;
  /** One line for the command list. */
  readonly summary: string;
  readonly description: string;
  /** Arguments after `<program> <command>`. */
  readonly usage: string;
  readonly examples: readonly Example[];
  readonly flags: readonly FlagSpec[];
}

const HELP: FlagSpec = { name: "help", short: "h", type: "boolean", default: "false", usage: "Show this help and exit." };

const KUBECONFIG: FlagSpec = {
  name: "kubeconfig",
  type: "string",
  default: "''",
  usage:
    "Path to the kubeconfig file. Defaults to $KUBECONFIG (several files separated by ':' are merged, as kubectl does), then ~/.kube/config; in a pod, the service account.",
};
const CONTEXT: FlagSpec = {
  name: "context",
  type: "string",
  default: "''",
  usage: "The kubeconfig context to use instead of its current-context.",
};
const LOG_LEVEL: FlagSpec = {
  name: "log-level",
  type: "string",
  default: "info",
  usage: "Most verbose level logged: error, warn, info or debug.",
};

function logFormat(defaultText: string): FlagSpec {
  return {
    name: "log-format",
    type: "string",
    default: defaultText,
    usage: "Log format: json (one object per line) or text (short lines for people).",
  };
}

const WATCH_NAMESPACES: FlagSpec = {
  name: "namespace",
  short: "n",
  type: "string",
  multiple: true,
  default: "[]",
  usage: "Namespaces whose PortForwards are served (repeat the flag or separate with commas); all namespaces when unset.",
};

function metricsBindAddress(address: string): FlagSpec {
  return {
    name: "metrics-bind-address",
    type: "string",
    default: address,
    usage: "HOST:PORT of /metrics, /healthz and /readyz (:0 picks a free port).",
  };
}

const GATEWAY_NAMESPACE: FlagSpec = {
  name: "gateway-namespace",
  type: "string",
  default: "$POD_NAMESPACE or tunnelkeeper-system",
  usage: "Namespace of the gateway replicas' heartbeat Leases (where the chart installs tunnelkeeper). It must exist.",
};
const GATEWAY_PORT_RANGE: FlagSpec = {
  name: "gateway-port-range",
  type: "string",
  default: "20000-29999",
  usage: "MIN-MAX range of the gateway ports the controller allocates to PortForward ports.",
};
const GATEWAYS_PER_PORTFORWARD: FlagSpec = {
  name: "gateways-per-portforward",
  type: "string",
  default: "2",
  usage:
    "The tunnel budget: at most this many live gateway replicas serve each PortForward (chosen by rendezvous hashing, listed in status.assignedGateways); the others open a tunnel only for a connection that reaches them anyway. 0: every replica serves every PortForward.",
};
const IDLE_TUNNEL_TIMEOUT: FlagSpec = {
  name: "idle-tunnel-timeout",
  type: "string",
  default: "60s",
  usage:
    "For a PortForward this replica stands by for (status.assignedGateways does not list it), how long its tunnels stay open after the last connection ended. They open again for the next connection that reaches this replica.",
};
const COUNTER_WRITES_PER_SECOND: FlagSpec = {
  name: "counter-writes-per-second",
  type: "string",
  default: "5",
  usage:
    "Status writes per second this replica may spend, over all PortForwards, on entries whose only change is their counters (activeConnections, reconnects, refusals). Each PortForward's counters are written at most every 5 s; past this budget they are written less often. Connection state and errors are written at once regardless.",
};
const DRAIN_TIMEOUT: FlagSpec = {
  name: "drain-timeout",
  type: "string",
  default: "30s",
  usage: "On SIGTERM/SIGINT, how long open connections may finish before they are closed (no wait when none is open).",
};

const PEER_CACHE: FlagSpec = {
  name: "peer-cache",
  type: "boolean",
  default: "true",
  usage:
    "Attribute client addresses to pods (a slim cache of pod IPs and labels, and namespace labels) so podSelector and namespaceSelector peers of spec.access can admit them. With --peer-cache=false only ipBlock peers admit anyone.",
};

function listenHost(host: string): FlagSpec {
  return { name: "listen-host", type: "string", default: host, usage: "Address the gateway's PortForward listeners bind to." };
}

const COMMON = [KUBECONFIG, CONTEXT, LOG_LEVEL];

export const COMMAND_SPECS: Readonly<Record<Command, CommandSpec>> = {
  controller: {
    name: "controller",
    summary: "Run the PortForward controller (one active replica, leader-elected)",
    description:
      "Run the PortForward controller: it resolves targets, allocates gateway ports, applies each PortForward's Service and EndpointSlice and writes its status. The Helm chart runs it with --leader-elect.",
    usage: "[options]",
    examples: [
      { comment: "Run the controller against the current kubeconfig context, for two namespaces", args: "controller -n shop,payments" },
      { comment: "Run it as the chart does", args: "controller --leader-elect --leader-election-namespace tunnelkeeper-system" },
    ],
    flags: [
      ...COMMON,
      logFormat("json"),
      WATCH_NAMESPACES,
      metricsBindAddress("0.0.0.0:8080"),
      {
        name: "leader-elect",
        type: "boolean",
        default: "false",
        usage: "Reconcile only while holding the controller Lease (for several replicas).",
      },
      {
        name: "leader-election-namespace",
        type: "string",
        default: "$POD_NAMESPACE or tunnelkeeper-system",
        usage: "Namespace of the controller's leader-election Lease. It must exist.",
      },
      GATEWAY_NAMESPACE,
      GATEWAY_PORT_RANGE,
      GATEWAYS_PER_PORTFORWARD,
      {
        name: "gateway-pod-selector",
        type: "string",
        default: "",
        usage:
          "KEY=VALUE,... labels of the gateway pods. When set, the controller maintains a NetworkPolicy per PortForward in the gateway namespace that admits exactly the peers of spec.access to its gateway ports (the chart sets it).",
      },
      HELP,
    ],
  },
  gateway: {
    name: "gateway",
    summary: "Run a gateway replica (listeners and tunnels; active-active)",
    description:
      "Run one gateway replica: it listens on the allocated gateway ports of every PortForward, keeps a tunnel to each ready target pod through the API server, and reports its entry in the PortForward's status and a heartbeat Lease.",
    usage: "[options]",
    examples: [
      {
        comment: "Run a gateway that listens on every address, as the chart does",
        args: "gateway --listen-host 0.0.0.0 --drain-timeout 30s",
      },
    ],
    flags: [
      ...COMMON,
      logFormat("json"),
      WATCH_NAMESPACES,
      metricsBindAddress("0.0.0.0:8081"),
      { ...GATEWAY_NAMESPACE, usage: "Namespace of this replica's heartbeat Lease (the controller's --gateway-namespace). It must exist." },
      listenHost("0.0.0.0"),
      DRAIN_TIMEOUT,
      IDLE_TUNNEL_TIMEOUT,
      COUNTER_WRITES_PER_SECOND,
      {
        name: "shutdown-delay",
        type: "string",
        default: "0s",
        usage:
          "On SIGTERM, how long to keep accepting after withdrawing the heartbeat Lease (so kube-proxy stops routing here first), before draining. The chart sets it; 0 outside a cluster.",
      },
      PEER_CACHE,
      HELP,
    ],
  },
  run: {
    name: "run",
    summary: "Run controller and gateway in one process (a cluster of your own, from a laptop)",
    description:
      "Run the controller and one gateway in this process against any cluster: PortForwards get their Services, and the gateway listens on 127.0.0.1. The gateway namespace is created when missing.",
    usage: "[options]",
    examples: [
      { comment: "Serve every PortForward of the current context's cluster", args: "run" },
      { comment: "Serve one namespace of another context", args: "run --context staging -n shop" },
    ],
    flags: [
      ...COMMON,
      logFormat("text on a terminal, json otherwise"),
      WATCH_NAMESPACES,
      metricsBindAddress("127.0.0.1:8080"),
      { ...GATEWAY_NAMESPACE, usage: "Namespace of the gateway heartbeat Lease; created when missing." },
      GATEWAY_PORT_RANGE,
      listenHost("127.0.0.1"),
      DRAIN_TIMEOUT,
      COUNTER_WRITES_PER_SECOND,
      PEER_CACHE,
      HELP,
    ],
  },
  forward: {
    name: "forward",
    summary: "Forward local ports to a pod, workload or Service (kubectl port-forward, kept alive)",
    description: [
      "Forward one or more local ports to a pod, like kubectl port-forward, with the same arguments and output.",
      "",
      "Unlike kubectl, it keeps one tunnel per pod alive (redialled when it drops), follows a workload's or Service's",
      "ready pods as they are replaced, and spreads new connections over them.",
      "",
      "TYPE is pod (po), deployment (deploy), statefulset (sts), replicaset (rs), daemonset (ds) or service (svc);",
      "a bare NAME is a pod. For a Service, REMOTE_PORT is a port of the Service (number or name); for a pod, a",
      "container port (number or name). A missing LOCAL_PORT is the remote port number; an empty one (:REMOTE_PORT)",
      "is any free port.",
      "",
      "With -f, runs PortForward manifests (files or directories of YAML) locally instead: every PortForward gets a",
      "listener on 127.0.0.1 per Service port (plus --port-offset), and one status line that follows its pods.",
    ].join("\n"),
    usage:
      "TYPE/NAME [options] [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]\n  {program} forward -f FILE|DIR [-f ...] [options]",
    examples: [
      {
        comment: "Listen on ports 5000 and 6000 locally, forwarding to ports 5000 and 6000 of the pod",
        args: "forward pod/mypod 5000 6000",
      },
      { comment: "Listen on 8080 locally, forwarding to the Service's port named http", args: "forward svc/web 8080:http" },
      {
        comment: "Listen on a random local port on every address, forwarding to port 5000 of a deployment's pods",
        args: "forward --address 0.0.0.0 deploy/api :5000",
      },
      {
        comment: "Run every PortForward manifest of a directory from this laptop, shifting ports by 10000",
        args: "forward -f ./portforwards --port-offset 10000",
      },
    ],
    flags: [
      ...COMMON,
      logFormat("text on a terminal, json otherwise"),
      {
        name: "namespace",
        short: "n",
        type: "string",
        default: "''",
        usage: "Namespace of the target; the kubeconfig context's namespace (or default) when unset.",
      },
      {
        name: "address",
        type: "string",
        multiple: true,
        default: "[localhost]",
        usage:
          "Addresses to listen on (comma separated). Only IP addresses or localhost; localhost means 127.0.0.1 and ::1, and fails only when neither can be bound.",
      },
      {
        name: "pod-running-timeout",
        type: "string",
        default: "1m0s",
        usage: "How long (like 5s, 2m or 3h, above zero) to wait until at least one target pod is running and ready.",
      },
      {
        name: "protocol",
        type: "string",
        default: "Auto",
        usage: "Tunnel protocol: Auto (KEP-4006 tunnel, falling back), Tunnel or Legacy (v4.channel.k8s.io).",
      },
      {
        name: "filename",
        short: "f",
        type: "string",
        multiple: true,
        default: "[]",
        usage: "PortForward manifests to run locally: YAML files or directories of them (.yaml, .yml, .json).",
      },
      {
        name: "port-offset",
        type: "string",
        default: "0",
        usage: "With -f: added to each Service port to get the local port (e.g. 10000 to avoid ports below 1024).",
      },
      HELP,
    ],
  },
  version: {
    name: "version",
    summary: "Print the tunnelkeeper and Node.js versions",
    description: "Print the tunnelkeeper version and the version of the Node.js runtime it runs on.",
    usage: "[options]",
    examples: [
      { comment: "Print the versions", args: "version" },
      { comment: "Print them as JSON", args: "version -o json" },
    ],
    flags: [{ name: "output", short: "o", type: "string", default: "''", usage: "Output format: '' (lines for people) or json." }, HELP],
  },
  help: {
    name: "help",
    summary: "Help about any command",
    description: "Show the help of a command, or the list of commands.",
    usage: "[COMMAND]",
    examples: [{ comment: "Show the flags of forward", args: "help forward" }],
    flags: [HELP],
  },
};

export function isCommand(name: string | undefined): name is Command {
  return COMMANDS.includes(name as Command);
}
