/**
 * Command line and environment → typed configuration, parsed once in main.ts and passed down.
 * This is the only module that reads `process.env` (KUBECONFIG, HOME, POD_NAME, POD_NAMESPACE,
 * POD_IP). Which flags each command takes, with their defaults, is in commands/command-specs.ts
 * (`tunnelkeeper <command> --help` prints it); a command accepts only its own flags.
 *
 * Errors are ConfigErrors: one line naming the flag and what is allowed (main.ts: exit code 2).
 */
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { tryParseDurationMs } from "./api/validation.ts";
import { COMMAND_SPECS, type Command, isCommand } from "./commands/command-specs.ts";
import { FlagError, flagBoolean, flagList, flagValue, type ParsedFlags, parseFlags } from "./commands/flags.ts";
import { DEFAULT_GATEWAYS_PER_PORTFORWARD } from "./controller/assign-gateways.ts";
import { DEFAULT_COUNTER_WRITES_PER_SECOND } from "./gateway/counter-write-budget.ts";

export { COMMANDS, type Command } from "./commands/command-specs.ts";

export class ConfigError extends Error {
  readonly code = "PF_ERR_CONFIG";
}

/** Parses a Go-style duration (`250ms`, `10s`, `1m30s`) or throws a ConfigError. */
export function parseDurationFlagMs(text: string, flag?: string): number {
  const ms = tryParseDurationMs(text.trim());
  if (ms === undefined)
    throw new ConfigError(`${flag === undefined ? "" : `${flag}: `}"${text}" is not a duration; use e.g. 500ms, 10s, 5m`);
  return ms;
}

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

export function parseBindAddress(text: string, flag = "--metrics-bind-address"): BindAddress {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw new ConfigError(`${flag} must be HOST:PORT (e.g. 0.0.0.0:8080, or :0 for any free port), got "${text}"`);
  return { host: match[1] === "" ? "0.0.0.0" : match[1]!.replace(/^\[|\]$/g, ""), port };
}

const LogLevel = z.enum(["error", "warn", "info", "debug"]);
export type LogFormat = "json" | "text";

export interface CommonConfig {
  /** A kubeconfig path, or several joined with ':' (merged like kubectl); undefined: in-cluster. */
  readonly kubeconfigPath: string | undefined;
  readonly context: string | undefined;
  /** Namespaces to watch; empty means all. */
  readonly namespaces: readonly string[];
  readonly logLevel: z.infer<typeof LogLevel>;
  /** `auto`: text when stderr is a terminal, json otherwise (main.ts decides). */
  readonly logFormat: LogFormat | "auto";
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
  /** The tunnel budget (`--gateways-per-portforward`): at most this many gateway replicas serve each PortForward; 0: all. */
  readonly gatewaysPerPortForward: number;
  /**
   * Labels of the gateway pods (`--gateway-pod-selector`): when set, the controller maintains a
   * NetworkPolicy per PortForward selecting them; unset, none.
   */
  readonly gatewayPodLabels?: Readonly<Record<string, string>>;
}

export interface GatewayConfig {
  readonly podName: string;
  /** Where this replica's heartbeat Lease lives (`--gateway-namespace`). */
  readonly podNamespace: string;
  /** The address other pods reach this replica on (EndpointSlices); empty when local. */
  readonly podIP: string;
  /** This replica's pod UID (POD_UID); its heartbeat Lease is then owned by the pod. Empty when local. */
  readonly podUid: string;
  readonly listenHost: string;
  readonly drainTimeoutMs: number;
  /**
   * On shutdown, how long to keep accepting after withdrawing from the EndpointSlices (so kube-proxy
   * stops sending new connections here first); 0 outside a cluster, where nothing routes to us.
   */
  readonly shutdownDelayMs: number;
  /** Attribute client addresses to pods for spec.access (`--peer-cache`, default true). */
  readonly peerCache: boolean;
  /** For a PortForward this replica stands by for, how long its tunnels outlive the last connection (`--idle-tunnel-timeout`). */
  readonly idleTunnelCloseMs: number;
  /**
   * Status writes per second this replica may spend on entries whose only change is their
   * counters, over all PortForwards (`--counter-writes-per-second`; gateway/counter-write-budget.ts).
   */
  readonly counterWritesPerSecond: number;
}

export type ForwardProtocol = "Auto" | "Tunnel" | "Legacy";

export interface ForwardConfig {
  /** `TYPE/NAME` or a pod name; undefined with `-f`. */
  readonly target: string | undefined;
  readonly ports: readonly string[];
  /** `-f` files and directories. */
  readonly files: readonly string[];
  readonly namespace: string | undefined;
  /** Addresses to listen on, `localhost` already expanded to 127.0.0.1 and ::1. */
  readonly addresses: readonly string[];
  /** Whether the addresses came from `localhost` (binding may fail on one of them, as in kubectl). */
  readonly addressesFromLocalhost: boolean;
  readonly podRunningTimeoutMs: number;
  readonly protocol: ForwardProtocol;
  readonly portOffset: number;
}

export type Config =
  | { command: "controller"; common: CommonConfig; controller: ControllerConfig }
  | { command: "gateway"; common: CommonConfig; gateway: GatewayConfig }
  | { command: "run"; common: CommonConfig; controller: ControllerConfig; gateway: GatewayConfig }
  | { command: "forward"; common: CommonConfig; forward: ForwardConfig }
  | { command: "version"; output: "" | "json" }
  | { command: "help"; topic: Command | undefined };

function parsePortRange(text: string): { min: number; max: number } {
  const match = /^(\d+)-(\d+)$/.exec(text);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (!match || min < 1 || max > 65535 || min > max) {
    throw new ConfigError(`--gateway-port-range must be MIN-MAX within 1-65535, got "${text}"`);
  }
  return { min, max };
}

/** A rate per second: a positive number, e.g. `5` or `0.5`. */
function parseRate(text: string, flag: string): number {
  const rate = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(rate > 0)) throw new ConfigError(`${flag} must be a number of writes per second above 0, e.g. 5 or 0.5, got "${text}"`);
  return rate;
}

function parseCount(text: string, flag: string): number {
  if (!/^\d{1,4}$/.test(text)) throw new ConfigError(`${flag} must be a whole number (0 for no limit), got "${text}"`);
  return Number(text);
}

function gatewayPodLabels(text: string | undefined): { gatewayPodLabels?: Record<string, string> } {
  if (text === undefined || text.trim() === "") return {};
  const labels: Record<string, string> = {};
  for (const part of text.split(",")) {
    const match = /^([A-Za-z0-9./_-]+)=([A-Za-z0-9._-]*)$/.exec(part.trim());
    if (!match)
      throw new ConfigError(`--gateway-pod-selector must be KEY=VALUE[,KEY=VALUE...] (matchLabels of the gateway pods), got "${text}"`);
    labels[match[1]!] = match[2]!;
  }
  return { gatewayPodLabels: labels };
}

function defaultKubeconfig(env: NodeJS.ProcessEnv): string | undefined {
  if (env.KUBECONFIG) return env.KUBECONFIG;
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  return home !== undefined && existsSync(home) ? home : undefined;
}

export interface ParseOptions {
  /** How the program was invoked, for messages: `tunnelkeeper` or `kubectl tunnelkeeper`. */
  readonly program?: string;
}

/** Parses argv (without node and script) and the environment into a Config, or throws ConfigError. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv, options: ParseOptions = {}): Config {
  const program = options.program ?? "tunnelkeeper";
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h") return { command: "help", topic: undefined };
  if (command === "--version") return { command: "version", output: "" };
  if (!isCommand(command)) {
    throw new ConfigError(
      command.startsWith("-")
        ? `unknown flag ${command} for "${program}"; a command comes first, see '${program} --help'`
        : `unknown command "${command}" for "${program}"; see '${program} --help' for the commands`,
    );
  }
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(rest, COMMAND_SPECS[command].flags, `${program} ${command}`);
  } catch (error) {
    if (error instanceof FlagError) throw new ConfigError(error.message);
    throw error;
  }
  if (flagBoolean(parsed, "help")) return { command: "help", topic: command };
  if (command === "help") {
    const [topic, extra] = parsed.positionals;
    if (extra !== undefined) throw new ConfigError(`${program} help takes one command, got ${parsed.positionals.length}`);
    if (topic !== undefined && !isCommand(topic)) {
      throw new ConfigError(`unknown command "${topic}" for "${program}"; see '${program} --help' for the commands`);
    }
    return { command: "help", topic };
  }
  if (command === "version") {
    noPositionals(parsed, `${program} version`);
    const output = flagValue(parsed, "output") ?? "";
    if (output !== "" && output !== "json") throw new ConfigError(`--output must be '' or json, got "${output}"`);
    return { command, output };
  }
  if (command !== "forward") noPositionals(parsed, `${program} ${command}`);
  const common = commonConfig(parsed, env, command);
  const podNamespace = flagValue(parsed, "gateway-namespace") ?? (env.POD_NAMESPACE || "tunnelkeeper-system");
  const instance = env.POD_NAME || `local-${hostname()}`;
  const controller: ControllerConfig = {
    instance,
    leaderElect: flagBoolean(parsed, "leader-elect"),
    leaderElectionNamespace: flagValue(parsed, "leader-election-namespace") ?? (env.POD_NAMESPACE || "tunnelkeeper-system"),
    gatewayNamespace: podNamespace,
    gatewayPortRange: parsePortRange(flagValue(parsed, "gateway-port-range") ?? "20000-29999"),
    gatewaysPerPortForward: parseCount(
      flagValue(parsed, "gateways-per-portforward") ?? String(DEFAULT_GATEWAYS_PER_PORTFORWARD),
      "--gateways-per-portforward",
    ),
    ...gatewayPodLabels(flagValue(parsed, "gateway-pod-selector")),
  };
  const gateway: GatewayConfig = {
    podName: instance,
    podNamespace,
    podIP: env.POD_IP ?? "",
    podUid: env.POD_UID ?? "",
    listenHost: flagValue(parsed, "listen-host") ?? (command === "gateway" ? "0.0.0.0" : "127.0.0.1"),
    drainTimeoutMs: parseDurationFlagMs(flagValue(parsed, "drain-timeout") ?? "30s", "--drain-timeout"),
    shutdownDelayMs: parseDurationFlagMs(flagValue(parsed, "shutdown-delay") ?? "0s", "--shutdown-delay"),
    peerCache: (flagValue(parsed, "peer-cache") ?? "true") === "true",
    idleTunnelCloseMs: parseDurationFlagMs(flagValue(parsed, "idle-tunnel-timeout") ?? "60s", "--idle-tunnel-timeout"),
    counterWritesPerSecond: parseRate(
      flagValue(parsed, "counter-writes-per-second") ?? String(DEFAULT_COUNTER_WRITES_PER_SECOND),
      "--counter-writes-per-second",
    ),
  };
  switch (command) {
    case "controller":
      return { command, common, controller };
    case "gateway":
      return { command, common, gateway };
    case "run":
      return { command, common, controller, gateway };
    case "forward":
      return { command, common, forward: forwardConfig(parsed, program) };
  }
}

function noPositionals(parsed: ParsedFlags, where: string): void {
  if (parsed.positionals.length > 0) {
    throw new ConfigError(`${where} takes no arguments, got "${parsed.positionals.join(" ")}"; see '${where} --help'`);
  }
}

const DEFAULT_METRICS: Record<"controller" | "gateway" | "run" | "forward", string> = {
  controller: "0.0.0.0:8080",
  gateway: "0.0.0.0:8081",
  run: "127.0.0.1:8080",
  forward: "127.0.0.1:0",
};

function commonConfig(parsed: ParsedFlags, env: NodeJS.ProcessEnv, command: "controller" | "gateway" | "run" | "forward"): CommonConfig {
  const logLevel = LogLevel.safeParse(flagValue(parsed, "log-level") ?? "info");
  if (!logLevel.success)
    throw new ConfigError(`--log-level must be one of error, warn, info, debug, got "${flagValue(parsed, "log-level")}"`);
  const format = flagValue(parsed, "log-format");
  if (format !== undefined && format !== "json" && format !== "text")
    throw new ConfigError(`--log-format must be json or text, got "${format}"`);
  return {
    kubeconfigPath: flagValue(parsed, "kubeconfig") ?? defaultKubeconfig(env),
    context: flagValue(parsed, "context"),
    namespaces: command === "forward" ? [] : flagList(parsed, "namespace"),
    logLevel: logLevel.data,
    logFormat: format ?? (command === "controller" || command === "gateway" ? "json" : "auto"),
    metricsBindAddress: parseBindAddress(flagValue(parsed, "metrics-bind-address") ?? DEFAULT_METRICS[command]),
  };
}

function forwardConfig(parsed: ParsedFlags, program: string): ForwardConfig {
  const files = flagList(parsed, "filename");
  const [target, ...ports] = parsed.positionals;
  if (files.length > 0) {
    if (target !== undefined) {
      throw new ConfigError(
        `with -f, ${program} forward takes no TYPE/NAME or ports (got "${parsed.positionals.join(" ")}"); the manifests name them`,
      );
    }
  } else if (target === undefined || ports.length === 0) {
    throw new ConfigError(
      target === undefined
        ? `TYPE/NAME is required for ${program} forward (or -f FILE); see '${program} forward --help'`
        : `at least one port is required: ${program} forward ${target} [LOCAL_PORT:]REMOTE_PORT`,
    );
  }
  const protocol = flagValue(parsed, "protocol") ?? "Auto";
  if (protocol !== "Auto" && protocol !== "Tunnel" && protocol !== "Legacy") {
    throw new ConfigError(`--protocol must be Auto, Tunnel or Legacy, got "${protocol}"`);
  }
  const addressList = flagList(parsed, "address");
  const requested = addressList.length === 0 ? ["localhost"] : addressList;
  const addresses: string[] = [];
  for (const address of requested) {
    if (address === "localhost") addresses.push("127.0.0.1", "::1");
    else if (isIP(address) !== 0) addresses.push(address);
    else throw new ConfigError(`--address takes IP addresses or localhost, got "${address}"`);
  }
  const timeout = flagValue(parsed, "pod-running-timeout") ?? "1m";
  const podRunningTimeoutMs = parseDurationFlagMs(timeout, "--pod-running-timeout");
  if (podRunningTimeoutMs <= 0) throw new ConfigError(`--pod-running-timeout must be higher than zero, got "${timeout}"`);
  const offsetText = flagValue(parsed, "port-offset") ?? "0";
  const portOffset = Number(offsetText);
  if (!/^-?\d+$/.test(offsetText) || Math.abs(portOffset) > 65535) {
    throw new ConfigError(`--port-offset must be a whole number of ports, got "${offsetText}"`);
  }
  return {
    target,
    ports,
    files,
    namespace: flagValue(parsed, "namespace"),
    addresses: [...new Set(addresses)],
    addressesFromLocalhost: requested.includes("localhost"),
    podRunningTimeoutMs,
    protocol,
    portOffset,
  };
}
