/**
 * The test control plane's pinned versions and where its binaries are cached.
 *
 * Binaries are built from the Go modules under `tools/` (their go.mod/go.sum are committed) and
 * cached outside the repository, keyed by the versions and a hash of every go.sum, so a change
 * of pin or dependency builds into a fresh folder and a clean clone reuses what is there.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const KUBERNETES_VERSION = "v1.36.3";
export const ETCD_VERSION = "v3.6.16";
export const KWOK_VERSION = "v0.8.0";
export const HELM_VERSION = "v3.21.4";
export const COREDNS_VERSION = "v1.15.0";

export const TOOLS_DIR = join(import.meta.dirname, "tools");

/** One Go module per binary family, each with the packages it builds and the binary names. */
export interface ToolModule {
  readonly dir: string;
  readonly packages: readonly string[];
  readonly binaries: readonly string[];
  readonly ldflags: string;
}

function kubernetesLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, "").split(".");
  const keys = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"];
  const flags = ["-s", "-w"];
  for (const pkg of keys) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags.join(" ");
}

export const TOOL_MODULES: readonly ToolModule[] = [
  {
    dir: join(TOOLS_DIR, "k8s"),
    packages: ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes/cmd/kubectl"],
    binaries: ["kube-apiserver", "kube-controller-manager", "kubectl"],
    ldflags: kubernetesLdflags(KUBERNETES_VERSION),
  },
  {
    dir: join(TOOLS_DIR, "etcd"),
    packages: ["go.etcd.io/etcd/server/v3"],
    binaries: ["etcd"],
    ldflags: "-s -w",
  },
  {
    dir: join(TOOLS_DIR, "kwok"),
    packages: ["sigs.k8s.io/kwok/cmd/kwok"],
    binaries: ["kwok"],
    ldflags: "-s -w",
  },
  {
    dir: join(TOOLS_DIR, "helm"),
    packages: ["helm.sh/helm/v3/cmd/helm"],
    binaries: ["helm"],
    ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36`,
  },
];

/**
 * The real node's binaries (see node.ts): kubelet, kube-proxy and kube-scheduler from the same
 * k8s.io/kubernetes module as the API server, and CoreDNS with only the plugins the cluster
 * zone needs. Built only when a node is asked for, into a folder of their own.
 */
export const NODE_TOOL_MODULES: readonly ToolModule[] = [
  {
    dir: join(TOOLS_DIR, "k8s"),
    packages: ["k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kube-proxy", "k8s.io/kubernetes/cmd/kube-scheduler"],
    binaries: ["kubelet", "kube-proxy", "kube-scheduler"],
    ldflags: kubernetesLdflags(KUBERNETES_VERSION),
  },
  {
    dir: join(TOOLS_DIR, "coredns"),
    packages: ["."],
    binaries: ["coredns"],
    ldflags: "-s -w",
  },
];

/** Root of everything tunnelkeeper caches on this machine; `TUNNELKEEPER_CACHE` overrides it. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.TUNNELKEEPER_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "tunnelkeeper");
}

/** A short hash of the modules' go.mod, go.sum and ldflags: a change of any builds anew. */
function modulesHash(modules: readonly ToolModule[]): string {
  const hash = createHash("sha256");
  for (const mod of modules) {
    hash.update(readFileSync(join(mod.dir, "go.mod")));
    hash.update(readFileSync(join(mod.dir, "go.sum")));
    hash.update(mod.packages.join(" "));
    hash.update(mod.ldflags);
  }
  return hash.digest("hex").slice(0, 12);
}

/** The folder holding this exact set of control-plane binaries. */
export function binDir(env: NodeJS.ProcessEnv = process.env): string {
  const key = `k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_${modulesHash(TOOL_MODULES)}`;
  return join(cacheRoot(env), "cluster-bin", key);
}

/** The folder holding this exact set of node binaries. */
export function nodeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const key = `k8s-${KUBERNETES_VERSION}_coredns-${COREDNS_VERSION}_${modulesHash(NODE_TOOL_MODULES)}`;
  return join(cacheRoot(env), "node-bin", key);
}

export interface NodeBinaries {
  readonly dir: string;
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly kubeScheduler: string;
  readonly coredns: string;
}

export function nodeBinaries(dir: string = nodeBinDir()): NodeBinaries {
  return {
    dir,
    kubelet: join(dir, "kubelet"),
    kubeProxy: join(dir, "kube-proxy"),
    kubeScheduler: join(dir, "kube-scheduler"),
    coredns: join(dir, "coredns"),
  };
}

export interface Binaries {
  readonly dir: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubectl: string;
  readonly etcd: string;
  readonly kwok: string;
  readonly helm: string;
}

export function binaries(dir: string = binDir()): Binaries {
  return {
    dir,
    kubeApiserver: join(dir, "kube-apiserver"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    kubectl: join(dir, "kubectl"),
    etcd: join(dir, "etcd"),
    kwok: join(dir, "kwok"),
    helm: join(dir, "helm"),
  };
}
