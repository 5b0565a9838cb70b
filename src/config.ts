/**
 * Command line and environment → typed configuration, parsed once in main.ts and passed down.
 * This is the only module that reads `process.env` (KUBECONFIG, POD_NAME, POD_NAMESPACE, POD_IP).
 *
 *   tunnelkeeper controller [common] [--leader-elect] [--leader-election-namespace NS]
 *                           [--gateway-namespace NS] [--gateway-port-range MIN-MAX]
 *   tunnelkeeper gateway    [common] [--listen-host HOST] [--drain-timeout DURATION] [--shutdown-delay DURATION]
 *   tunnelkeeper run        [common] both in one process (local development)
 *   tunnelkeeper dev        local control plane + run + a demo PortForward
 *   tunnelkeeper forward    TARGET [LOCAL:]REMOTE... [-n NS] (laptop-side port-forward)
 *
 * common: [--kubeconfig PATH] [--context NAME] [--namespace NS]... [--log-level LEVEL]
 *         [--metrics-bind-address HOST:PORT]
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseDurationMs as parseGoDurationMs } from "./api/validation.ts";

export const COMMANDS = ["controller", "gateway", "run", "dev", "forward"] as const;
export type Command = (typeof COMMANDS)[number];

export class ConfigError extends Error {
  readonly code = "PF_ERR_CONFIG";
}

/** Parses a Go-style duration (`250ms`, `10s`, `1m30s`) or throws a ConfigError. */
export function parseDurationMs(text: string): number {
  const ms = parseGoDurationMs(text.trim());
  if (ms === undefined) throw new ConfigError(`"${text}" is not a duration; use e.g. 500ms, 10s, 5m`);
  return ms;
}

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

export function parseBindAddress(text: string): BindAddress {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new ConfigError(`"${text}" is not HOST:PORT (e.g. 0.0.0.0:8080, or :0 for any free port)`);
  return { host: match[1] === "" ? "0.0.0.0" : match[1]!.replace(/^\[|\]$/g, ""), port };
}

const LogLevel = z.enum(["error", "warn", "info", "debug"]);

export interface CommonConfig {
  readonly kubeconfigPath: string | undefined;
  readonly context: string | undefined;
  /** Namespaces to watch; empty means all. */
  readonly namespaces: readonly string[];
  readonly logLevel: z.infer<typeof LogLevel>;
  readonly metricsBindAddress: BindAddress;
}

export interface ControllerConfig {
  /** This replica's name (pod name in a cluster): Events' reportingInstance, Lease holder. */
  readonly instance: string;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace: string;
  /** Where gateway replicas keep their heartbeat Leases. */
  readonly gatewayNamespace: string;
  readonly gatewayPortRange: { readonly min: number; readonly max: number };
}

export interface GatewayConfig {
  readonly podName: string;
  readonly podNamespace: string;
  /** The address other pods reach this replica on (EndpointSlices); empty when local. */
  readonly podIP: string;
  readonly listenHost: string;
  readonly drainTimeoutMs: number;
  /**
   * On shutdown, how long to keep accepting after withdrawing from the EndpointSlices (so kube-proxy
   * stops sending new connections here first); 0 outside a cluster, where nothing routes to us.
   */
  readonly shutdownDelayMs: number;
}

export interface ForwardConfig {
  readonly target: string;
  readonly ports: readonly string[];
  readonly namespace: string | undefined;
  readonly address: string;
  readonly protocol: "Auto" | "Tunnel" | "Legacy";
}

export type Config =
  | { command: "controller"; common: CommonConfig; controller: ControllerConfig }
  | { command: "gateway"; common: CommonConfig; gateway: GatewayConfig }
  | { command: "run"; common: CommonConfig; controller: ControllerConfig; gateway: GatewayConfig }
  | { command: "dev"; common: CommonConfig; controller: ControllerConfig; gateway: GatewayConfig }
  | { command: "forward"; common: CommonConfig; forward: ForwardConfig };

const DEFAULT_METRICS: Record<Command, string> = {
  controller: "0.0.0.0:8080",
  gateway: "0.0.0.0:8081",
  run: "127.0.0.1:8080",
  dev: "127.0.0.1:0",
  forward: "127.0.0.1:0",
};

function parsePortRange(text: string): { min: number; max: number } {
  const match = /^(\d+)-(\d+)$/.exec(text);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (!match || min < 1 || max > 65535 || min > max) {
    throw new ConfigError(`--gateway-port-range must be MIN-MAX within 1-65535, got "${text}"`);
  }
  return { min, max };
}

/** Parses argv (without node and script) and the environment into a Config, or throws ConfigError. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const [command, ...rest] = argv;
  if (!COMMANDS.includes(command as Command)) {
    throw new ConfigError(`usage: tunnelkeeper <${COMMANDS.join("|")}> [flags]; got "${command ?? ""}"`);
  }
  const cmd = command as Command;
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(rest);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const logLevel = LogLevel.safeParse(values["log-level"]);
  if (!logLevel.success) throw new ConfigError(`--log-level must be one of error, warn, info, debug`);
  const common: CommonConfig = {
    kubeconfigPath: values.kubeconfig ?? (env.KUBECONFIG || undefined),
    context: values.context,
    namespaces: values.namespace ?? [],
    logLevel: logLevel.data,
    metricsBindAddress: parseBindAddress(values["metrics-bind-address"] ?? DEFAULT_METRICS[cmd]),
  };
  const podNamespace = env.POD_NAMESPACE || "tunnelkeeper-system";
  const controller: ControllerConfig = {
    instance: env.POD_NAME || `local-${hostname()}`,
    leaderElect: values["leader-elect"] ?? false,
    leaderElectionNamespace: values["leader-election-namespace"] ?? podNamespace,
    gatewayNamespace: values["gateway-namespace"] ?? podNamespace,
    gatewayPortRange: parsePortRange(values["gateway-port-range"] ?? "20000-29999"),
  };
  const gateway: GatewayConfig = {
    podName: env.POD_NAME || `local-${hostname()}`,
    podNamespace,
    podIP: env.POD_IP ?? "",
    listenHost: values["listen-host"] ?? (cmd === "gateway" ? "0.0.0.0" : "127.0.0.1"),
    drainTimeoutMs: parseDurationMs(values["drain-timeout"] ?? "30s"),
    shutdownDelayMs: parseDurationMs(values["shutdown-delay"] ?? "0s"),
  };
  switch (cmd) {
    case "controller":
      return { command: cmd, common, controller };
    case "gateway":
      return { command: cmd, common, gateway };
    case "run":
    case "dev":
      return { command: cmd, common, controller, gateway };
    case "forward": {
      const [target, ...ports] = positionals;
      if (!target || ports.length === 0) {
        throw new ConfigError("usage: tunnelkeeper forward <pod|deployment|statefulset|service>/<name> [LOCAL:]REMOTE... [-n NAMESPACE]");
      }
      const protocol = values.protocol ?? "Auto";
      if (protocol !== "Auto" && protocol !== "Tunnel" && protocol !== "Legacy") {
        throw new ConfigError("--protocol must be Auto, Tunnel or Legacy");
      }
      return {
        command: cmd,
        common,
        forward: { target, ports, namespace: values.namespace?.[0], address: values.address ?? "127.0.0.1", protocol },
      };
    }
  }
}

function parseFlags(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      kubeconfig: { type: "string" },
      context: { type: "string" },
      namespace: { type: "string", short: "n", multiple: true },
      "log-level": { type: "string", default: "info" },
      "metrics-bind-address": { type: "string" },
      "leader-elect": { type: "boolean" },
      "leader-election-namespace": { type: "string" },
      "gateway-namespace": { type: "string" },
      "gateway-port-range": { type: "string" },
      "listen-host": { type: "string" },
      "drain-timeout": { type: "string" },
      "shutdown-delay": { type: "string" },
      address: { type: "string" },
      protocol: { type: "string" },
    },
  });
}
