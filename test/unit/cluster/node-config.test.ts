// The real node's configuration keeps every component inside the node (test/cluster/node.ts's
// isolation contract): paths under the node's own folder, addresses of its own namespace, its own
// cgroup root, and the settings that stop kube-proxy and kubelet from writing global sysctls.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterManifests, type NodeState, nodeConfigFiles } from "../../cluster/node-config.ts";

const state: NodeState = {
  name: "tk-node-abc123",
  id: "abc123",
  root: "/cache/nodes/abc123",
  netns: "/cache/nodes/abc123/ns/net",
  hostVeth: "tkhabc123",
  nodeVeth: "tknabc123",
  hostIp: "10.200.7.1",
  nodeIp: "10.200.7.2",
  podCidr: "10.245.7.0/24",
  cgroup: "tunnelkeeper-node-abc123",
  images: {
    app: "localhost/tunnelkeeper:dev-1",
    appRepository: "localhost/tunnelkeeper",
    appTag: "dev-1",
    tools: "localhost/tools:1",
    pause: "localhost/pause:3.10.2",
    archives: [],
  },
  simulatedNode: "kwok-node-0",
  kubectl: "/bin/kubectl",
  kubeconfig: "/plane/admin.kubeconfig",
  pids: {},
};
const files = nodeConfigFiles(state, "/plane/ca.crt");
const json = (name: string) => JSON.parse(files[name]!) as Record<string, unknown>;

/** Every absolute path a configuration names (strings starting with "/"). */
function absolutePaths(text: string): string[] {
  return [...text.matchAll(/"(\/[^"\s]+)"|\s(\/[^\s"]+)/g)].map((m) => (m[1] ?? m[2])!);
}

describe("the real node's configuration", () => {
  it("writes the files every component reads", () => {
    assert.deepEqual(Object.keys(files).sort(), [
      "Corefile",
      "cni/net.d/10-tunnelkeeper.conflist",
      "containerd/config.toml",
      "kube-proxy.json",
      "kubelet/config.json",
      "kubelet/resolv.conf",
    ]);
  });

  it("keeps state under the node's folder (the CA and host binaries aside)", () => {
    // the cgroup root is a cgroup path (checked below), not a file
    const allowed = [state.root, "/plane/ca.crt", "/usr/lib/cni", "/usr/sbin/runc", `/${state.cgroup}`];
    for (const [name, text] of Object.entries(files)) {
      for (const path of absolutePaths(text)) {
        assert.ok(
          allowed.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)),
          `${name} names ${path}, outside the node's folder`,
        );
      }
    }
  });

  it("has kube-proxy leave every global conntrack sysctl alone and open NodePorts on the node address only", () => {
    const proxy = json("kube-proxy.json");
    assert.deepEqual(proxy.conntrack, { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" });
    assert.deepEqual(proxy.nodePortAddresses, ["10.200.7.2/32"]);
    assert.equal(proxy.mode, "nftables");
    assert.equal(proxy.clusterCIDR, state.podCidr);
  });

  it("puts kubelet's pods in the node's own cgroup root, its DNS on the node, and authenticates the API server", () => {
    const kubelet = json("kubelet/config.json");
    assert.equal(kubelet.cgroupRoot, `/${state.cgroup}`);
    assert.deepEqual(kubelet.clusterDNS, [state.nodeIp]);
    assert.equal(kubelet.address, state.nodeIp);
    assert.equal(kubelet.healthzBindAddress, "127.0.0.1");
    assert.equal(
      kubelet.protectKernelDefaults,
      false,
      "kubelet's sysctl writes land on the bind-mounted files of the private mount namespace",
    );
    assert.deepEqual(kubelet.authentication, {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: "/plane/ca.crt" },
    });
    assert.deepEqual(kubelet.authorization, { mode: "Webhook" });
    assert.equal(files["kubelet/resolv.conf"], "nameserver 10.200.7.2\n");
  });

  it("gives pods the node's own subnet without masquerading (no NAT rule leaves the namespace)", () => {
    const cni = json("cni/net.d/10-tunnelkeeper.conflist") as {
      plugins: { type: string; ipMasq?: boolean; ipam?: { ranges: { subnet: string }[][] } }[];
    };
    const bridge = cni.plugins.find((p) => p.type === "bridge")!;
    assert.equal(bridge.ipMasq, false);
    assert.equal(bridge.ipam?.ranges[0]?.[0]?.subnet, state.podCidr);
  });

  it("runs containers with the locally built pause image and runc, never lowering oom_score_adj", () => {
    const toml = files["containerd/config.toml"]!;
    assert.match(toml, /sandbox_image = "localhost\/pause:3\.10\.2"/);
    assert.match(toml, /restrict_oom_score_adj = true/);
    assert.match(toml, /BinaryName = "\/usr\/sbin\/runc"/);
  });

  it("serves cluster.local from CoreDNS on the node address, with its own identity", () => {
    const corefile = files.Corefile!;
    assert.match(corefile, /kubernetes cluster\.local in-addr\.arpa ip6\.arpa/);
    assert.match(corefile, /ready 10\.200\.7\.2:8181/);
    assert.match(corefile, new RegExp(`kubeconfig ${state.root}/pki/coredns\\.kubeconfig coredns`));
  });

  it("adds to the cluster only CoreDNS's RBAC and the kubernetes Service's endpoint at the node", () => {
    const objects = clusterManifests(state)
      .split("\n---\n")
      .map((doc) => JSON.parse(doc) as { kind: string; metadata: { name: string }; endpoints?: { addresses: string[] }[] });
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ["ClusterRole/tunnelkeeper-test:coredns", "ClusterRoleBinding/tunnelkeeper-test:coredns", `EndpointSlice/kubernetes-${state.name}`],
    );
    assert.deepEqual(objects[2]!.endpoints?.[0]?.addresses, [state.nodeIp]);
  });
});
