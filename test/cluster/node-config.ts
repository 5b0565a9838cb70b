/**
 * The real node's identity and configuration as pure data (node.ts runs it): the state recorded
 * for teardown, every component's configuration file, and the objects the node adds to the
 * cluster. Nothing here touches the machine, so the isolation settings are unit-tested
 * (test/unit/cluster/node-config.test.ts).
 */
import { join } from "node:path";
import type { NodeImages } from "./images.ts";

/** The NoSchedule taint the KWOK node carries while a real node is up. */
export const SIMULATED_NODE_TAINT = { key: "tunnelkeeper.io/simulated-node", value: "true", effect: "NoSchedule" } as const;
export const CLUSTER_DOMAIN = "cluster.local";

export interface NodeState {
  readonly name: string;
  readonly id: string;
  readonly root: string;
  /** The node's network namespace, bound to a file in `root` (not under /run/netns: `ip netns` would mount that on the host). */
  readonly netns: string;
  readonly hostVeth: string;
  readonly nodeVeth: string;
  readonly hostIp: string;
  readonly nodeIp: string;
  readonly podCidr: string;
  /** The cgroup (in every v1 hierarchy) under which kubelet puts pods and this node's daemons run. */
  readonly cgroup: string;
  readonly images: NodeImages;
  /** Whether this node made the host's empty /run/netns folder (the mount point of its private bind); teardown removes it then. */
  createdRunNetns?: boolean;
  /** The KWOK node, tainted NoSchedule while this node is up. */
  readonly simulatedNode: string;
  readonly kubectl: string;
  readonly kubeconfig: string;
  pids: Record<string, number>;
}

/**
 * Every configuration file of the node, keyed by its path relative to `state.root`. Each one
 * keeps its component inside the node: paths under the node's folder, addresses of its network
 * namespace, no global sysctl written (see the comments beside the settings that ensure it).
 */
export function nodeConfigFiles(state: NodeState, caCert: string): Record<string, string> {
  const r = state.root;
  const containerd = `version = 2
root = "${r}/containerd/root"
state = "${r}/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${r}/containerd/containerd.sock"
[ttrpc]
  address = "${r}/containerd/containerd.sock.ttrpc"
[debug]
  address = "${r}/containerd/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${r}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${state.images.pause}"
  # root lacks CAP_SYS_RESOURCE here: never try to lower a container's oom_score_adj
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${r}/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${r}/containerd/certs.d"
`;
  const cni = {
    cniVersion: "1.0.0",
    name: "tunnelkeeper-node",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: state.podCidr }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(r, "cni", "ipam"),
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  const kubelet = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // This machine's cgroups are v1 (hybrid); 1.35+ refuses them unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupsPerQOS: true,
    cgroupRoot: `/${state.cgroup}`,
    containerRuntimeEndpoint: `unix://${r}/containerd/containerd.sock`,
    imageServiceEndpoint: `unix://${r}/containerd/containerd.sock`,
    address: state.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caCert } },
    authorization: { mode: "Webhook" },
    podLogsDir: join(r, "kubelet-logs", "pods"),
    resolvConf: join(r, "kubelet", "resolv.conf"),
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [state.nodeIp],
    oomScoreAdj: 0,
    protectKernelDefaults: false,
    evictionHard: { "memory.available": "200Mi", "nodefs.available": "2%", "imagefs.available": "2%", "nodefs.inodesFree": "2%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    maxPods: 60,
    serializeImagePulls: false,
    registerNode: true,
    // Pods leave quickly in tests; the default 30 s of node-status lag would slow every wait.
    nodeStatusUpdateFrequency: "5s",
  };
  const proxy = {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "nftables",
    clientConnection: { kubeconfig: join(r, "pki", "kube-proxy.kubeconfig") },
    hostnameOverride: state.name,
    bindAddress: "0.0.0.0",
    clusterCIDR: state.podCidr,
    detectLocalMode: "ClusterCIDR",
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    nodePortAddresses: [`${state.nodeIp}/32`],
    // Zero means "leave the kernel's value alone": kube-proxy then writes no global conntrack sysctl.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  };
  const corefile = `.:53 {
    errors
    health ${state.nodeIp}:8080
    ready ${state.nodeIp}:8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${join(r, "pki", "coredns.kubeconfig")} coredns
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
`;
  return {
    "containerd/config.toml": containerd,
    "cni/net.d/10-tunnelkeeper.conflist": JSON.stringify(cni, null, 2),
    "kubelet/config.json": JSON.stringify(kubelet, null, 2),
    "kubelet/resolv.conf": `nameserver ${state.nodeIp}\n`,
    "kube-proxy.json": JSON.stringify(proxy, null, 2),
    Corefile: corefile,
  };
}

/** RBAC for CoreDNS's identity and the `kubernetes` Service's endpoints as the node sees them. */
export function clusterManifests(state: NodeState): string {
  const objects = [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "tunnelkeeper-test:coredns" },
      rules: [
        { apiGroups: [""], resources: ["services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "tunnelkeeper-test:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "tunnelkeeper-test:coredns" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:coredns" }],
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `kubernetes-${state.name}`,
        namespace: "default",
        labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "tunnelkeeper-test-node" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [state.nodeIp], conditions: { ready: true } }],
      ports: [{ name: "https", port: 6443, protocol: "TCP" }],
    },
  ];
  return objects.map((o) => JSON.stringify(o)).join("\n---\n");
}
