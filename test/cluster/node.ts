/**
 * A REAL node joined to the test control plane: containerd + runc + CNI bridge, kubelet and
 * kube-proxy (nftables) v1.36.3, CoreDNS for the cluster zone, and kube-scheduler (the control
 * plane has none, and KWOK pods are bound by name). Pods run real containers of images built on
 * this machine (images.ts); clients reach Services through kube-proxy and names through CoreDNS.
 *
 * Isolation contract — the host is left exactly as it was (test/node/host-state.test.ts checks it):
 * - Every node process runs in a network namespace made for this node, joined to the host by one
 *   veth pair (host end `<hostIp>/30`, node end `<nodeIp>/30`) with no default route inside, so
 *   traffic only ever goes to 127.0.0.1 or to addresses inside namespaces this harness made. No
 *   firewall rule, route or sysctl of the host's network namespace is written (the veth's own
 *   connected route goes away with it).
 * - containerd and kubelet also share a private mount namespace, where the kernel sysctls kubelet
 *   insists on writing, `/var/lib`, `/var/log` and `/run/netns` are bind mounts of this node's folder.
 * - The API server listens on 127.0.0.1 only; the node reaches it through a unix-socket bridge
 *   (socat on each side), and pods through the `kubernetes` Service, whose EndpointSlice points at
 *   the node end of that bridge.
 * - Names are unique per node (namespace, interfaces, cgroups, folder), so harness runs never meet.
 *   The KWOK node gets a NoSchedule taint, so the scheduler only places pods here.
 *
 * Teardown (`stopNode`) works from the recorded state alone, also after a crash: pods deleted
 * while the API server is up, then every recorded process by PID, then any process left in this
 * node's own cgroups (containerd's shims and containers are started inside them), then mounts,
 * cgroups and the network namespace. Nothing is ever killed by name.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { ensureNodeBinaries, type ProgressSink } from "./build.ts";
import type { ControlPlaneState } from "./control-plane.ts";
import { ensureNodeImages } from "./images.ts";
import { isAlive, stopPid } from "./managed-process.ts";
import { clusterManifests, type NodeState, nodeConfigFiles, SIMULATED_NODE_TAINT } from "./node-config.ts";
import { issueClientCert, writeCertKubeconfig } from "./pki.ts";
import { freePort, httpOk } from "./probes.ts";
import { cacheRoot } from "./versions.ts";

const execFileAsync = promisify(execFile);

export type { NodeState } from "./node-config.ts";

/** The NoSchedule taint the KWOK node carries while a real node is up. */
const DAEMON_STOP_GRACE_MS = 2_000;

export interface NodeOptions {
  readonly progress?: ProgressSink;
}

/** Debian packages the node needs; installed when missing (as scripts/ensure-system-tools.sh does). */
const NODE_PACKAGES: Record<string, string> = {
  podman: "podman",
  buildah: "buildah",
  containerd: "containerd",
  runc: "runc",
  "/usr/lib/cni/bridge": "containernetworking-plugins",
  debootstrap: "debootstrap",
  "/bin/busybox": "busybox-static",
  socat: "socat",
  conntrack: "conntrack",
  nft: "nftables",
  iptables: "iptables",
  newuidmap: "uidmap",
  gcc: "gcc",
};

export async function ensureNodePackages(progress: ProgressSink): Promise<void> {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(NODE_PACKAGES)) {
    if (tool.startsWith("/") ? existsSync(tool) : await onPath(tool)) continue;
    missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the real node needs root and these Debian packages: ${missing.join(" ")}`);
  progress(`[node] installing Debian packages: ${missing.join(" ")}`);
  await execFileAsync("apt-get", ["update", "-qq"]);
  await execFileAsync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function onPath(tool: string): Promise<boolean> {
  try {
    await execFileAsync("sh", ["-c", `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

/** A /30 for the veth and a /24 for pods, chosen so no address on the host overlaps them. */
async function pickSubnets(): Promise<{ hostIp: string; nodeIp: string; podCidr: string; octet: number }> {
  const { stdout } = await execFileAsync("ip", ["-o", "addr"]);
  for (let attempt = 0; attempt < 50; attempt++) {
    const octet = 1 + Math.floor(Math.random() * 250);
    if (stdout.includes(`10.200.${octet}.`) || stdout.includes(`10.245.${octet}.`)) continue;
    return { hostIp: `10.200.${octet}.1`, nodeIp: `10.200.${octet}.2`, podCidr: `10.245.${octet}.0/24`, octet };
  }
  throw new Error("no free 10.200.x.0/30 subnet for the node's veth");
}

/** Runs a command for its success: resolves true, or false when it fails. */
async function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  try {
    await execFileAsync(command, args);
    return true;
  } catch {
    return false;
  }
}

async function sh(command: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function kubectl(state: Pick<NodeState, "kubectl" | "kubeconfig">, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      state.kubectl,
      ["--kubeconfig", state.kubeconfig, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout)),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Cgroup hierarchies under /sys/fs/cgroup (this machine's layout is hybrid: v1 controllers plus
 * the unified v2 tree, where runc also makes a folder per container). `v1Only` leaves out the
 * unified tree, where the node makes nothing itself.
 */
function cgroupHierarchies(v1Only = false): string[] {
  return readdirSync("/sys/fs/cgroup")
    .filter((name) => !(v1Only && name === "unified") && existsSync(join("/sys/fs/cgroup", name, "cgroup.procs")))
    .map((name) => join("/sys/fs/cgroup", name));
}

/**
 * Starts `command` detached, already inside this node's daemon cgroup (so everything it forks —
 * containerd's shims and their containers — can be found again), with its output in a log file.
 */
function daemon(state: NodeState, name: string, command: string, args: readonly string[]): number {
  const procs = join("/sys/fs/cgroup/pids", state.cgroup, "daemons", "cgroup.procs");
  const log = join(state.root, "logs", `${name}.log`);
  const child = spawn("sh", ["-c", `echo $$ > ${procs} && exec "$@" >>${log} 2>&1`, "sh", command, ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, NO_PROXY: "*", no_proxy: "*", HTTPS_PROXY: "", HTTP_PROXY: "", https_proxy: "", http_proxy: "" },
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`${name} could not be started`);
  state.pids[name] = child.pid;
  return child.pid;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, state: NodeState, logName?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (logName && state.pids[logName] !== undefined && !isAlive(state.pids[logName]!)) break;
    await sleep(200);
  }
  const log = logName ? join(state.root, "logs", `${logName}.log`) : undefined;
  const tail = log && existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-25).join("\n") : "";
  throw new Error(`${what} did not happen within ${timeoutMs / 1000}s${tail ? `; ${logName} log tail:\n${tail}` : ""}`);
}

/**
 * Starts a real node for the control plane (building binaries and images first when missing);
 * resolves once the node is Ready, kube-proxy has programmed its table and CoreDNS answers.
 * On failure everything started so far is torn down before the error is thrown.
 */
export async function startNode(plane: ControlPlaneState, options: NodeOptions = {}): Promise<NodeState> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const step = (what: string) => progress(`[node] ${what} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  await ensureNodePackages(progress);
  const bins = await ensureNodeBinaries(progress);
  const images = await ensureNodeImages(progress);
  step("binaries and images ready");

  const id = randomBytes(3).toString("hex");
  const subnets = await pickSubnets();
  const root = join(cacheRoot(), "nodes", id);
  const state: NodeState = {
    name: `tk-node-${id}`,
    id,
    root,
    netns: join(root, "ns", "net"),
    hostVeth: `tkh${id}`,
    nodeVeth: `tkn${id}`,
    hostIp: subnets.hostIp,
    nodeIp: subnets.nodeIp,
    podCidr: subnets.podCidr,
    cgroup: `tunnelkeeper-node-${id}`,
    images,
    simulatedNode: plane.nodeName,
    kubectl: plane.kubectl,
    kubeconfig: plane.kubeconfig,
    pids: {},
  };
  for (const dir of [
    "logs",
    "run",
    "pki",
    "kubelet/root",
    "kubelet/pki",
    "kubelet-logs/pods",
    "cni/net.d",
    "cni/ipam",
    "containerd",
    "ns",
    "fakesys",
  ]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  for (const dir of ["var-lib", "var-log", "run-netns"]) mkdirSync(join(root, "hostpaths", dir), { recursive: true });
  writeFileSync(join(root, "state.json"), JSON.stringify(state, null, 2));
  const save = () => writeFileSync(join(root, "state.json"), JSON.stringify(state, null, 2));
  try {
    for (const [file, text] of Object.entries(nodeConfigFiles(state, join(plane.workDir, "ca.crt")))) writeFileSync(join(root, file), text);
    for (const hierarchy of cgroupHierarchies(true)) mkdirSync(join(hierarchy, state.cgroup, "daemons"), { recursive: true });

    // 1. network namespace + veth; no default route inside, so nothing leaves for the world.
    writeFileSync(state.netns, "");
    await sh("unshare", [`--net=${state.netns}`, "true"]);
    const inNet = (args: string[]) => sh("nsenter", [`--net=${state.netns}`, ...args]);
    await sh("ip", ["link", "add", state.hostVeth, "type", "veth", "peer", "name", state.nodeVeth, "netns", state.netns]);
    await sh("ip", ["addr", "add", `${state.hostIp}/30`, "dev", state.hostVeth]);
    await sh("ip", ["link", "set", state.hostVeth, "up"]);
    await inNet(["ip", "link", "set", "lo", "up"]);
    await inNet(["ip", "addr", "add", `${state.nodeIp}/30`, "dev", state.nodeVeth]);
    await inNet(["ip", "link", "set", state.nodeVeth, "up"]);
    step(`network namespace ready (node ${state.nodeIp}, veth ${state.hostVeth})`);

    // 2. a persistent private mount namespace: the sysctls kubelet writes become plain files here.
    const mntNs = join(root, "ns", "mnt");
    writeFileSync(mntNs, "");
    await sh("unshare", [`--mount=${mntNs}`, "--propagation", "private", "true"]);
    const inMnt = (args: string[]) => sh("nsenter", [`--mount=${mntNs}`, ...args]);
    for (const [key, value] of Object.entries({
      "vm/overcommit_memory": "1",
      "vm/panic_on_oom": "0",
      "kernel/panic": "10",
      "kernel/panic_on_oops": "1",
      "kernel/keys/root_maxkeys": "1000000",
      "kernel/keys/root_maxbytes": "25000000",
    })) {
      const file = join(root, "fakesys", key.replace(/\//g, "_"));
      writeFileSync(file, `${value}\n`);
      await inMnt(["mount", "--bind", file, `/proc/sys/${key}`]);
    }
    await inMnt(["mount", "--bind", join(root, "hostpaths", "var-lib"), "/var/lib"]);
    await inMnt(["mount", "--bind", join(root, "hostpaths", "var-log"), "/var/log"]);
    if (!existsSync("/run/netns")) {
      mkdirSync("/run/netns");
      state.createdRunNetns = true;
    }
    await inMnt(["mount", "--bind", join(root, "hostpaths", "run-netns"), "/run/netns"]);
    step("private mount namespace ready");

    const inNode = (mount: boolean) => ["nsenter", ...(mount ? [`--mount=${mntNs}`] : []), `--net=${state.netns}`];
    const socket = join(root, "containerd", "containerd.sock");
    const ctr = (args: string[]) => sh("ctr", ["--address", socket, "-n", "k8s.io", ...args]);
    const [nsenter, ...nsArgs] = inNode(true);
    daemon(state, "containerd", nsenter!, [...nsArgs, "/usr/bin/containerd", "--config", join(root, "containerd", "config.toml")]);
    save();
    await waitFor(
      "containerd serving",
      async () => existsSync(socket) && (await succeeds("ctr", ["--address", socket, "version"])),
      30_000,
      state,
      "containerd",
    );
    const imported = Promise.all(images.archives.map((archive) => ctr(["images", "import", archive])));

    // 3. identities from the suite's CA, the API server bridge, the scheduler.
    const ca = { cert: join(plane.workDir, "ca.crt"), key: join(plane.workDir, "ca.key") };
    const pki = join(root, "pki");
    const inNodeUrl = "https://127.0.0.1:6443";
    const hostUrl = `https://127.0.0.1:${plane.ports.apiserver}`;
    const kubeletCert = issueClientCert(pki, ca, { user: `system:node:${state.name}`, groups: ["system:nodes"] });
    writeCertKubeconfig(join(pki, "kubelet.kubeconfig"), inNodeUrl, ca.cert, kubeletCert, `system:node:${state.name}`);
    writeCertKubeconfig(
      join(pki, "kube-proxy.kubeconfig"),
      inNodeUrl,
      ca.cert,
      issueClientCert(pki, ca, { user: "system:kube-proxy", groups: [] }),
      "system:kube-proxy",
    );
    writeCertKubeconfig(
      join(pki, "coredns.kubeconfig"),
      inNodeUrl,
      ca.cert,
      issueClientCert(pki, ca, { user: "system:coredns", groups: [] }),
      "coredns",
    );
    const schedulerKubeconfig = writeCertKubeconfig(
      join(pki, "kube-scheduler.kubeconfig"),
      hostUrl,
      ca.cert,
      issueClientCert(pki, ca, { user: "system:kube-scheduler", groups: [] }),
      "system:kube-scheduler",
    );
    const bridge = join(root, "run", "apiserver.sock");
    daemon(state, "socat-host", "socat", [`UNIX-LISTEN:${bridge},fork,mode=600`, `TCP:127.0.0.1:${plane.ports.apiserver}`]);
    await waitFor("the API server bridge socket", async () => existsSync(bridge), 10_000, state, "socat-host");
    daemon(state, "socat-node", "nsenter", [
      `--net=${state.netns}`,
      "socat",
      "TCP-LISTEN:6443,bind=0.0.0.0,fork,reuseaddr",
      `UNIX-CONNECT:${bridge}`,
    ]);
    const schedulerPort = await freePort();
    daemon(state, "kube-scheduler", bins.kubeScheduler, [
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${schedulerPort}`,
    ]);
    save();
    await kubectl(state, ["apply", "--server-side", "--field-manager=tunnelkeeper-test-node", "-f", "-"], clusterManifests(state));
    await kubectl(state, [
      "taint",
      "nodes",
      state.simulatedNode,
      `${SIMULATED_NODE_TAINT.key}=${SIMULATED_NODE_TAINT.value}:${SIMULATED_NODE_TAINT.effect}`,
      "--overwrite",
    ]);
    await imported;
    step(`containerd up, ${images.archives.length} images imported, scheduler started`);

    // 4. kubelet; then kube-proxy and CoreDNS.
    const [ns2, ...ns2Args] = inNode(true);
    daemon(state, "kubelet", ns2!, [
      ...ns2Args,
      bins.kubelet,
      `--config=${join(root, "kubelet", "config.json")}`,
      `--kubeconfig=${join(pki, "kubelet.kubeconfig")}`,
      `--root-dir=${join(root, "kubelet", "root")}`,
      `--cert-dir=${join(root, "kubelet", "pki")}`,
      `--hostname-override=${state.name}`,
      `--node-ip=${state.nodeIp}`,
      "--v=1",
    ]);
    save();
    await waitFor(
      `node ${state.name} Ready`,
      async () =>
        (await kubectl(state, ["get", "node", state.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"])) === "True",
      120_000,
      state,
      "kubelet",
    );
    step(`node ${state.name} Ready`);
    const [ns3, ...ns3Args] = inNode(false);
    daemon(state, "kube-proxy", ns3!, [...ns3Args, bins.kubeProxy, `--config=${join(root, "kube-proxy.json")}`, "--v=1"]);
    daemon(state, "coredns", ns3!, [...ns3Args, bins.coredns, "-conf", join(root, "Corefile")]);
    save();
    await waitFor(
      "kube-proxy's nftables table",
      () => succeeds("nsenter", [`--net=${state.netns}`, "nft", "list", "table", "ip", "kube-proxy"]),
      30_000,
      state,
      "kube-proxy",
    );
    await waitFor("CoreDNS ready", () => httpOk(`http://${state.nodeIp}:8181/ready`), 30_000, state, "coredns");
    step("kube-proxy synced, CoreDNS ready; node up");
    return state;
  } catch (err) {
    save();
    if (!process.env.TUNNELKEEPER_KEEP_FAILED_CLUSTER) await stopNode(state).catch(() => undefined);
    throw err;
  }
}

/** PIDs of every process in this node's cgroups (daemons, shims, containers). */
function processesInCgroups(state: Pick<NodeState, "cgroup">): number[] {
  const pids = new Set<number>();
  for (const hierarchy of cgroupHierarchies()) {
    const top = join(hierarchy, state.cgroup);
    if (!existsSync(top)) continue;
    const walk = (dir: string) => {
      for (const line of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (line) pids.add(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    };
    walk(top);
  }
  return [...pids];
}

function removeCgroups(state: Pick<NodeState, "cgroup">): void {
  for (const hierarchy of cgroupHierarchies()) {
    const top = join(hierarchy, state.cgroup);
    if (!existsSync(top)) continue;
    const remove = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) remove(join(dir, entry.name));
      rmdirSync(dir);
    };
    remove(top);
  }
}

/** Stops a node from its recorded state and removes everything it made. Safe to call twice. */
export async function stopNode(state: NodeState, progress: ProgressSink = () => undefined): Promise<void> {
  const started = Date.now();
  const errors: string[] = [];
  const timings: string[] = [];
  let last = started;
  const lap = (what: string) => {
    timings.push(`${what} ${((Date.now() - last) / 1000).toFixed(1)}s`);
    last = Date.now();
  };
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (err) {
      errors.push(`${what}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  };
  // While the API server is up: the node's pods and the node object go, and the taint. The pods'
  // containers need no graceful end (they are killed below with their cgroups), and their network
  // needs no CNI DEL: it lives in the node's namespace and IPAM folder, both removed at the end.
  await attempt("deleting the node's pods", () =>
    kubectl(state, [
      "delete",
      "pods",
      "-A",
      `--field-selector=spec.nodeName=${state.name}`,
      "--force",
      "--grace-period=0",
      "--request-timeout=20s",
    ]),
  );
  lap("pods");
  // Test daemons: nothing of theirs needs a graceful end, so a short grace before SIGKILL.
  await Promise.all(
    ["coredns", "kube-proxy", "kubelet", "kube-scheduler"].map((name) =>
      state.pids[name] !== undefined ? stopPid(state.pids[name]!, DAEMON_STOP_GRACE_MS) : undefined,
    ),
  );
  lap("daemons");
  await attempt("deleting the node object", () =>
    kubectl(state, ["delete", "node", state.name, "--ignore-not-found", "--wait=false", "--request-timeout=10s"]),
  );
  await attempt("removing the simulated node's taint", () =>
    kubectl(state, ["taint", "nodes", state.simulatedNode, `${SIMULATED_NODE_TAINT.key}-`, "--request-timeout=10s"]).catch((err: Error) => {
      if (!/not found/.test(err.message)) throw err;
    }),
  );
  await attempt("deleting the kubernetes EndpointSlice", () =>
    kubectl(state, ["delete", "endpointslice", "-n", "default", `kubernetes-${state.name}`, "--ignore-not-found", "--request-timeout=10s"]),
  );
  lap("node object");
  const containerd = state.pids.containerd;
  if (containerd !== undefined) await stopPid(containerd, DAEMON_STOP_GRACE_MS);
  // Shims and containers outlive containerd by design; they are ours because they are in our cgroups.
  for (let round = 0; round < 20; round++) {
    const left = processesInCgroups(state);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await sleep(250);
  }
  for (const name of ["socat-node", "socat-host"]) {
    const pid = state.pids[name];
    if (pid !== undefined) await stopPid(pid, DAEMON_STOP_GRACE_MS);
  }
  lap("containerd, shims, bridge");
  // The mount namespace ends once no process is in it and its file is unmounted.
  const mntNs = join(state.root, "ns", "mnt");
  if (readFileSync("/proc/self/mountinfo", "utf8").includes(` ${mntNs} `))
    await attempt("unmounting the mount namespace", () => sh("umount", [mntNs]));
  await attempt("removing cgroups", async () => removeCgroups(state));
  // The network namespace ends once no process is in it and its file is unmounted; its veth goes with it.
  if (readFileSync("/proc/self/mountinfo", "utf8").includes(` ${state.netns} `)) {
    await attempt("unmounting the network namespace", () => sh("umount", [state.netns]));
  }
  // The host end of the veth goes when the namespace is freed, which the kernel does asynchronously.
  for (let i = 0; i < 50 && existsSync(`/sys/class/net/${state.hostVeth}`); i++) await sleep(200);
  if (existsSync(`/sys/class/net/${state.hostVeth}`))
    await attempt("deleting the host veth", () => sh("ip", ["link", "del", state.hostVeth]));
  if (state.createdRunNetns)
    await attempt(
      "removing /run/netns",
      async () => existsSync("/run/netns") && readdirSync("/run/netns").length === 0 && rmdirSync("/run/netns"),
    );
  lap("namespaces and cgroups");
  rmSync(state.root, { recursive: true, force: true });
  lap("files");
  progress(`[node] ${state.name} stopped in ${((Date.now() - started) / 1000).toFixed(1)}s (${timings.join(", ")})`);
  if (errors.length > 0) progress(`[node] teardown notes: ${errors.join("; ")}`);
}
