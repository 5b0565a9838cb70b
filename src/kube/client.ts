/**
 * Loading a kubeconfig into a `KubeConnection` (kube/connection.ts).
 *
 * Configuration sources, in order: an explicit kubeconfig path (config.ts resolves `--kubeconfig`
 * and `KUBECONFIG`; this module never reads the environment for it), otherwise the in-cluster
 * service account (`KUBERNETES_SERVICE_HOST/PORT` and the mounted CA and token, the token re-read
 * as it rotates).
 *
 * A path may list several files joined with ':' (KUBECONFIG style); they are merged the way
 * kubectl merges them (kube/kubeconfig-document.ts). When the chosen context needs only
 * certificates and tokens, the result is our own `StaticKubeConfig`; when it needs a plugin
 * (exec, auth-provider, proxy-url, basic auth, impersonation), @kubernetes/client-node is
 * loaded for it then, and only then (kube/plugin-kubeconfig.ts): the operator's processes and
 * most laptops never pay its import.
 */
import { readFileSync } from "node:fs";
import { delimiter } from "node:path";
import { parse as parseYaml } from "yaml";
import type { KubeConnection } from "./connection.ts";
import { chooseKubeconfig, type KubeconfigFile } from "./kubeconfig-document.ts";
import { KubeConfigError } from "./kubeconfig-error.ts";
import { inClusterCredentials, StaticKubeConfig } from "./static-kubeconfig.ts";

export interface LoadKubeConfigOptions {
  /** Path to a kubeconfig file; when absent, the in-cluster configuration is used. */
  kubeconfigPath?: string;
  /** Context to select instead of the file's current-context. */
  context?: string;
}

export interface LoadedKubeConfig {
  readonly connection: KubeConnection;
  /** The selected context's namespace, when it names one (a default for commands like `forward`). */
  readonly namespace?: string;
}

export async function loadKubeConfig(options: LoadKubeConfigOptions = {}): Promise<LoadedKubeConfig> {
  const path = options.kubeconfigPath;
  if (path === undefined || path === "") {
    const credentials = inClusterCredentials();
    if (credentials === undefined) {
      throw new KubeConfigError("No kubeconfig path given and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)");
    }
    return { connection: new StaticKubeConfig(credentials) };
  }
  const paths = path.split(delimiter).filter((file) => file !== "");
  const choice = chooseKubeconfig(paths.map(readKubeconfigFile), options.context);
  if (choice.kind === "static") {
    return {
      connection: new StaticKubeConfig(choice.credentials),
      ...(choice.namespace === undefined ? {} : { namespace: choice.namespace }),
    };
  }
  const { loadPluginKubeConfig } = await import("./plugin-kubeconfig.ts");
  return loadPluginKubeConfig(paths, options.context);
}

function readKubeconfigFile(path: string): KubeconfigFile {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (cause) {
    throw new KubeConfigError(`Failed to load kubeconfig from ${path}`, { cause });
  }
  try {
    return { path, document: parseYaml(source) };
  } catch (cause) {
    throw new KubeConfigError(`The kubeconfig ${path} is not valid YAML`, { cause });
  }
}
