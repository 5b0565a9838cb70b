/**
 * Loading a KubeConfig and building typed API clients.
 *
 * Configuration sources, in order: an explicit kubeconfig path (config.ts resolves `--kubeconfig`
 * and `KUBECONFIG`; this module never reads the environment itself), otherwise the in-cluster
 * service account (client-node's `loadFromCluster`, which reads `KUBERNETES_SERVICE_HOST/PORT` and
 * the mounted token, refreshing the token file as it rotates).
 *
 * A path may list several files joined with ':' (KUBECONFIG style). They are merged the way
 * kubectl merges them: the first file that names a cluster, user or context wins, and so does the
 * first current-context (client-node's own merge lets the last one win and throws on duplicates).
 */
import { delimiter } from "node:path";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  EventsV1Api,
  KubeConfig,
} from "@kubernetes/client-node";
import { KubeConfigError } from "./kubeconfig-error.ts";

export interface LoadKubeConfigOptions {
  /** Path to a kubeconfig file; when absent, the in-cluster configuration is used. */
  kubeconfigPath?: string;
  /** Context to select instead of the file's current-context. */
  context?: string;
}

export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
      loadMerged(
        kubeConfig,
        options.kubeconfigPath.split(delimiter).filter((file) => file !== ""),
      );
    } else {
      kubeConfig.loadFromCluster();
    }
  } catch (cause) {
    throw new KubeConfigError(`Failed to load kubeconfig from ${options.kubeconfigPath ?? "in-cluster service account"}`, {
      cause,
    });
  }
  if (options.context !== undefined) {
    if (kubeConfig.getContextObject(options.context) === null) {
      throw new KubeConfigError(`Context ${JSON.stringify(options.context)} is not in the kubeconfig`);
    }
    kubeConfig.setCurrentContext(options.context);
  }
  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined || server.includes("undefined")) {
    throw new KubeConfigError(
      options.kubeconfigPath === undefined
        ? "No kubeconfig path given and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)"
        : `The kubeconfig ${options.kubeconfigPath} has no usable current cluster`,
    );
  }
  return kubeConfig;
}

function loadMerged(kubeConfig: KubeConfig, files: readonly string[]): void {
  if (files.length === 1) {
    kubeConfig.loadFromFile(files[0]!);
    return;
  }
  const loaded = files.map((file) => {
    const part = new KubeConfig();
    part.loadFromFile(file);
    return part;
  });
  const firstByName = <T extends { name: string }>(lists: readonly (readonly T[])[]): T[] => {
    const byName = new Map<string, T>();
    for (const item of lists.flat()) if (!byName.has(item.name)) byName.set(item.name, item);
    return [...byName.values()];
  };
  kubeConfig.loadFromOptions({
    clusters: firstByName(loaded.map((k) => k.clusters)),
    users: firstByName(loaded.map((k) => k.users)),
    contexts: firstByName(loaded.map((k) => k.contexts)),
    currentContext: loaded.map((k) => k.currentContext).find((c) => c !== undefined && c !== "") ?? "",
  });
}

/** Typed clients sharing one KubeConfig (and so one connection pool per cluster/user). */
export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
  coordination: CoordinationV1Api;
  events: EventsV1Api;
  customObjects: CustomObjectsApi;
}

export function createKubeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    discovery: kubeConfig.makeApiClient(DiscoveryV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    events: kubeConfig.makeApiClient(EventsV1Api),
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
  };
}
