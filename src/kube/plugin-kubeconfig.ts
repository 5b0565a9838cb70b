/**
 * Kubeconfigs whose user needs a plugin (exec, auth-provider, basic auth, impersonation) or whose
 * cluster needs a proxy: these are served by @kubernetes/client-node's `KubeConfig`, which
 * implements them and fits `KubeConnection` as is. Imported by kube/client.ts only when such a
 * kubeconfig is chosen, so nothing else loads the library.
 *
 * Several files are merged the way kubectl merges them: the first file that names a cluster, user
 * or context wins, and so does the first current-context (client-node's own merge lets the last
 * one win and throws on duplicates).
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { LoadedKubeConfig } from "./client.ts";
import { KubeConfigError } from "./kubeconfig-error.ts";

export function loadPluginKubeConfig(files: readonly string[], context: string | undefined): LoadedKubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    loadMerged(kubeConfig, files);
  } catch (cause) {
    throw new KubeConfigError(`Failed to load kubeconfig from ${files.join(":")}`, { cause });
  }
  if (context !== undefined) kubeConfig.setCurrentContext(context);
  const namespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  return { connection: kubeConfig, ...(namespace === undefined ? {} : { namespace }) };
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
