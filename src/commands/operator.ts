/**
 * Composition of the long-running commands (`controller`, `gateway`, `run`): one KubeConnection,
 * one cluster cache, one metrics registry and health endpoint, and the component runnables,
 * all under one Manager (SIGTERM/SIGINT → graceful shutdown). The controller-runtime metrics are
 * registered here, once, because the controller's loop and the gateway's share them under `run`.
 *
 * `runOperator` first makes sure the Lease namespaces exist (namespaces.ts), so a missing one
 * is one line at start instead of a 404 every 5 s.
 */
import type { CommonConfig, Config, ControllerConfig, GatewayConfig } from "../config.ts";
import { loadKubeConfig } from "../kube/client.ts";
import type { KubeConnection } from "../kube/connection.ts";
import { HealthServer } from "../observability/health.ts";
import type { Logger } from "../observability/log.ts";
import { Registry, registerControllerMetrics } from "../observability/metrics.ts";
import { registerRemoteClusterMetrics } from "../remote/remote-metrics.ts";
import { releaseMemoryWhenIdle } from "../runtime/idle-memory.ts";
import { Manager, type Runnable } from "../runtime/manager.ts";
import { ClusterCache } from "../watch/cluster-cache.ts";
import { controllerRunnables } from "./controller.ts";
import { gatewayRunnables } from "./gateway.ts";
import { ensureNamespaces, type RequiredNamespace } from "./namespaces.ts";

export interface OperatorParts {
  readonly common: CommonConfig;
  readonly controller?: ControllerConfig;
  readonly gateway?: GatewayConfig;
  readonly log: Logger;
}

export interface Operator {
  readonly kubeConfig: KubeConnection;
  readonly manager: Manager;
  readonly health: HealthServer;
}

export async function buildOperator(parts: OperatorParts): Promise<Operator> {
  const { common, log } = parts;
  const { connection: kubeConfig } = await loadKubeConfig({
    ...(common.kubeconfigPath === undefined ? {} : { kubeconfigPath: common.kubeconfigPath }),
    ...(common.context === undefined ? {} : { context: common.context }),
  });
  const registry = new Registry();
  const loopMetrics = registerControllerMetrics(registry);
  const remoteMetrics = registerRemoteClusterMetrics(registry);
  const health = new HealthServer({ host: common.metricsBindAddress.host, port: common.metricsBindAddress.port, registry });
  const cache = new ClusterCache({
    kubeConfig,
    namespaces: common.namespaces,
    observer: (kind) => ({
      failed: (phase, error, retryInMs) => log.warn("Watch failed; retrying", { kind, phase, retryInMs, error }),
    }),
  });
  const idleMemoryReleases = registry.counter({
    name: "tunnelkeeper_idle_memory_releases_total",
    help: "Memory-reducing collections run because the process was idle after its heap had grown (runtime/idle-memory.ts).",
  });
  const runnables: Runnable[] = [
    { name: "health", start: (signal) => health.start(signal) },
    { name: "cache", start: (signal) => cache.start(signal) },
    {
      name: "idle-memory",
      start: (signal) =>
        releaseMemoryWhenIdle(signal, {
          released: (release) => {
            idleMemoryReleases.inc();
            log.debug("Released idle memory", {
              heapCommittedBeforeMiB: mib(release.heapCommittedBeforeBytes),
              heapCommittedAfterMiB: mib(release.heapCommittedAfterBytes),
              durationMs: Math.round(release.durationMs),
            });
          },
        }),
    },
  ];
  if (parts.controller !== undefined) {
    runnables.push(
      ...controllerRunnables({
        kubeConfig,
        common,
        config: parts.controller,
        cache,
        registry,
        loopMetrics,
        remoteMetrics: remoteMetrics("controller"),
        health,
        log,
      }),
    );
  }
  if (parts.gateway !== undefined) {
    runnables.push(
      ...gatewayRunnables({
        kubeConfig,
        config: parts.gateway,
        cache,
        registry,
        loopMetrics,
        remoteMetrics: remoteMetrics("gateway"),
        health,
        log,
        namespaces: common.namespaces,
      }),
    );
  }
  const manager = new Manager({
    gracePeriodMs: (parts.gateway?.drainTimeoutMs ?? 0) + 15_000,
    observer: {
      stopping: (reason) => log.info("Shutting down", { reason }),
      runnableFailed: (name, error) => log.error("Component failed", { component: name, error }),
    },
  });
  for (const runnable of runnables) manager.add(runnable);
  return { kubeConfig, manager, health };
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

/** The namespaces the parts need (their Leases), with the flag that sets each. */
export function requiredNamespaces(parts: Pick<OperatorParts, "controller" | "gateway">): RequiredNamespace[] {
  const required: RequiredNamespace[] = [];
  if (parts.gateway !== undefined) required.push({ namespace: parts.gateway.podNamespace, flag: "--gateway-namespace" });
  if (parts.controller !== undefined) {
    required.push({ namespace: parts.controller.gatewayNamespace, flag: "--gateway-namespace" });
    if (parts.controller.leaderElect) {
      required.push({ namespace: parts.controller.leaderElectionNamespace, flag: "--leader-election-namespace" });
    }
  }
  return required;
}

/** `tunnelkeeper controller|gateway|run` until SIGINT/SIGTERM; resolves 0 after a clean stop. */
export async function runOperator(config: Extract<Config, { command: "controller" | "gateway" | "run" }>, log: Logger): Promise<number> {
  const parts = {
    ...(config.command === "gateway" ? {} : { controller: config.controller }),
    ...(config.command === "controller" ? {} : { gateway: config.gateway }),
  };
  const operator = await buildOperator({ common: config.common, log, ...parts });
  await ensureNamespaces(operator.kubeConfig, requiredNamespaces(parts), { create: config.command === "run", log });
  log.info("Starting", {
    command: config.command,
    metrics: `${config.common.metricsBindAddress.host}:${config.common.metricsBindAddress.port}`,
  });
  await operator.manager.start();
  log.info("Stopped");
  return 0;
}
