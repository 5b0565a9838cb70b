/**
 * A real Kubernetes control plane on 127.0.0.1 for tests, benchmarks and `tunnelkeeper dev`:
 * etcd → kube-apiserver → kube-controller-manager → KWOK (the simulated kubelet) and one fake
 * node, `kwok-node-0`, whose port-forward endpoint reaches local TCP servers through KWOK
 * `PortForward` objects (see pods.ts).
 *
 * Everything lives in one work folder under /dev/shm (etcd data included, so no fsync cost);
 * `stop()` ends the processes in reverse order and removes it. `state` is plain JSON so
 * `npm run cluster -- up` can leave the processes running and `down` can find them again.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureBinaries, type ProgressSink } from "./build.ts";
import { ManagedProcess, stopPid } from "./managed-process.ts";
import { ADMIN, CONTROLLER_MANAGER, createPki, KUBELET_CLIENT, type Pki, UNPRIVILEGED, writeKubeconfig } from "./pki.ts";
import { freePort, httpOk, httpsGet } from "./probes.ts";
import { type Binaries, KWOK_VERSION } from "./versions.ts";

const execFileAsync = promisify(execFile);

export const NODE_NAME = "kwok-node-0";
export const SERVICE_CIDR = "10.96.0.0/16";
export const POD_CIDR = "10.244.0.0/16";

export interface ControlPlaneState {
  readonly workDir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly unprivilegedKubeconfig: string;
  readonly kubectl: string;
  readonly helm: string;
  readonly binDir: string;
  readonly nodeName: string;
  readonly ports: { etcd: number; apiserver: number; kwok: number };
  pids: Record<string, number>;
}

export interface StartOptions {
  readonly detached?: boolean;
  readonly progress?: ProgressSink;
  /** Extra kube-apiserver feature gates, e.g. `PortForwardWebsockets=false`. */
  readonly featureGates?: string;
  /** kube-apiserver's `/debug/pprof` (benchmarks profile it: bench/support/apiserver-profile.ts); off by default. */
  readonly profiling?: boolean;
}

export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kwok";

export class ControlPlane {
  readonly state: ControlPlaneState;
  readonly #processes: Map<Component, ManagedProcess>;
  readonly #pki: Pki;
  readonly #bins: Binaries;
  readonly #extra: ManagedProcess[] = [];

  constructor(state: ControlPlaneState, processes: Map<Component, ManagedProcess>, pki: Pki, bins: Binaries) {
    this.state = state;
    this.#processes = processes;
    this.#pki = pki;
    this.#bins = bins;
  }

  /** Restarts one component in place (same ports, same data); resolves when it is ready again. */
  async restart(component: Component): Promise<void> {
    const proc = this.#processes.get(component);
    if (!proc) throw new Error(`no component ${component}`);
    await proc.restart();
    if (proc.pid !== undefined) this.state.pids[component] = proc.pid;
  }

  /**
   * Starts a second kube-apiserver on the same etcd (a normal HA setup) with other feature
   * gates; returns an admin kubeconfig for it. It stops with the control plane.
   */
  async startExtraApiServer(featureGates: string): Promise<{ kubeconfig: string; server: string }> {
    const port = await freePort();
    const name = `kube-apiserver-${port}`;
    const proc = new ManagedProcess(
      apiServerSpec(this.#bins, this.#pki, this.state.workDir, this.state.ports.etcd, port, featureGates, name, false),
    );
    await proc.start();
    this.#extra.push(proc);
    const server = `https://127.0.0.1:${port}`;
    const kubeconfig = writeKubeconfig(join(this.state.workDir, `${name}.kubeconfig`), server, this.#pki, ADMIN);
    return { kubeconfig, server };
  }

  /** Stops every process in reverse start order and removes the work folder. */
  async stop(): Promise<void> {
    // The clients of etcd at once, then etcd: the cluster and its data are thrown away, so the
    // components need not wait for each other — but the API server's own shutdown waits on etcd,
    // so etcd goes last. About a second in all (`npm run dev` promises to end within 2 s).
    await Promise.all([
      ...this.#extra.map((proc) => proc.stop()),
      ...(["kwok", "kube-controller-manager", "kube-apiserver"] as const).map((name) => this.#processes.get(name)?.stop()),
    ]);
    await this.#processes.get("etcd")?.stop();
    rmSync(this.state.workDir, { recursive: true, force: true });
  }
}

function apiServerSpec(
  bins: Binaries,
  pki: Pki,
  workDir: string,
  etcdPort: number,
  port: number,
  featureGates: string | undefined,
  name: string,
  detached: boolean,
  profiling = false,
) {
  const admin = pki.clientCert(ADMIN);
  return {
    name,
    command: bins.kubeApiserver,
    detached,
    logFile: join(workDir, `${name}.log`),
    args: [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${join(workDir, name)}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      "--authorization-mode=Node,RBAC",
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--allow-privileged=true",
      "--endpoint-reconciler-type=none",
      "--kubelet-preferred-address-types=InternalIP,Hostname",
      `--kubelet-client-certificate=${pki.clientCert(KUBELET_CLIENT).cert}`,
      `--kubelet-client-key=${pki.clientCert(KUBELET_CLIENT).key}`,
      "--enable-priority-and-fairness=false",
      `--profiling=${profiling}`,
      ...(featureGates ? [`--feature-gates=${featureGates}`] : []),
    ],
    probe: async () => (await httpsGet(`https://127.0.0.1:${port}/readyz`, { ca: pki.caCert, ...admin })).status === 200,
  };
}

async function kubectl(state: Pick<ControlPlaneState, "kubectl" | "kubeconfig">, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(state.kubectl, ["--kubeconfig", state.kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** KWOK's module source (CRDs and stage YAML); it is in the module cache once kwok was built. */
async function kwokModuleDir(): Promise<string> {
  const { stdout } = await execFileAsync("go", ["env", "GOMODCACHE"]);
  return join(stdout.trim(), `sigs.k8s.io/kwok@${KWOK_VERSION}`);
}

const NODE_MANIFEST = {
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name: NODE_NAME,
    annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
    labels: { "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", type: "kwok" },
  },
  status: {
    allocatable: { cpu: "64", memory: "256Gi", pods: "20000" },
    capacity: { cpu: "64", memory: "256Gi", pods: "20000" },
  },
};

/** Starts the whole control plane, building binaries first when they are missing. */
export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const detached = options.detached ?? false;
  const bins = await ensureBinaries(progress);
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const workDir = mkdtempSync(join(base, "tunnelkeeper-cluster-"));
  const processes = new Map<Component, ManagedProcess>();
  const started = Date.now();
  try {
    const pki = createPki(workDir, [ADMIN, UNPRIVILEGED, CONTROLLER_MANAGER, KUBELET_CLIENT]);
    const [etcdPort, etcdPeerPort, apiPort, kwokPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;
    const state: ControlPlaneState = {
      workDir,
      server,
      kubeconfig: writeKubeconfig(join(workDir, "admin.kubeconfig"), server, pki, ADMIN),
      unprivilegedKubeconfig: writeKubeconfig(join(workDir, "unprivileged.kubeconfig"), server, pki, UNPRIVILEGED),
      kubectl: bins.kubectl,
      helm: bins.helm,
      binDir: bins.dir,
      nodeName: NODE_NAME,
      ports: { etcd: etcdPort, apiserver: apiPort, kwok: kwokPort },
      pids: {},
    };
    const launch = async (component: Component, proc: ManagedProcess) => {
      processes.set(component, proc);
      const t0 = Date.now();
      await proc.start();
      if (proc.pid !== undefined) state.pids[component] = proc.pid;
      progress(`[cluster] ${component} ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    };

    const etcdData = join(workDir, "etcd");
    await launch(
      "etcd",
      new ManagedProcess({
        name: "etcd",
        command: bins.etcd,
        detached,
        logFile: join(workDir, "etcd.log"),
        args: [
          "--name=n0",
          `--data-dir=${etcdData}`,
          `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-cluster=n0=http://127.0.0.1:${etcdPeerPort}`,
          "--unsafe-no-fsync",
          "--auto-compaction-retention=1",
          "--quota-backend-bytes=4294967296",
          "--log-level=warn",
        ],
        probe: () => httpOk(`http://127.0.0.1:${etcdPort}/health`, (body) => body.includes('"health":"true"')),
      }),
    );

    await launch(
      "kube-apiserver",
      new ManagedProcess(
        apiServerSpec(bins, pki, workDir, etcdPort, apiPort, options.featureGates, "kube-apiserver", detached, options.profiling),
      ),
    );

    const kwokDir = await kwokModuleDir();
    await kubectl(state, [
      "apply",
      "--server-side",
      "-f",
      join(kwokDir, "kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml"),
      "-f",
      join(kwokDir, "kustomize/crd/bases/kwok.x-k8s.io_clusterportforwards.yaml"),
    ]);
    await kubectl(state, [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/portforwards.kwok.x-k8s.io",
      "crd/clusterportforwards.kwok.x-k8s.io",
    ]);

    const kcmKubeconfig = writeKubeconfig(join(workDir, "kcm.kubeconfig"), server, pki, ADMIN);
    await launch(
      "kube-controller-manager",
      new ManagedProcess({
        name: "kube-controller-manager",
        command: bins.kubeControllerManager,
        detached,
        logFile: join(workDir, "kube-controller-manager.log"),
        args: [
          `--kubeconfig=${kcmKubeconfig}`,
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          `--secure-port=${await freePort()}`,
          `--root-ca-file=${pki.caCert}`,
          `--service-account-private-key-file=${pki.serviceAccountKey}`,
          "--use-service-account-credentials=false",
          "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-persistentvolume-binder",
          "--concurrent-gc-syncs=5",
          "--kube-api-qps=200",
          "--kube-api-burst=400",
        ],
        probe: async () => {
          try {
            await kubectl(state, ["get", "serviceaccount", "default", "-n", "default", "-o", "name"]);
            return true;
          } catch {
            return false;
          }
        },
      }),
    );

    const stagesFile = join(workDir, "kwok-stages.yaml");
    const stageDir = join(kwokDir, "kustomize/stage");
    writeFileSync(
      stagesFile,
      [
        "node/fast/node-initialize.yaml",
        "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        "pod/fast/pod-ready.yaml",
        "pod/fast/pod-complete.yaml",
        "pod/fast/pod-delete.yaml",
      ]
        .map((file) => readFileSync(join(stageDir, file), "utf8").trim())
        .join("\n---\n"),
    );
    await launch(
      "kwok",
      new ManagedProcess({
        name: "kwok",
        command: bins.kwok,
        detached,
        logFile: join(workDir, "kwok.log"),
        args: [
          `--kubeconfig=${state.kubeconfig}`,
          `--config=${stagesFile}`,
          "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
          "--node-ip=127.0.0.1",
          "--node-name=localhost",
          `--node-port=${kwokPort}`,
          `--server-address=127.0.0.1:${kwokPort}`,
          "--node-lease-duration-seconds=40",
          `--cidr=${POD_CIDR}`,
          "--enable-crds=PortForward,ClusterPortForward",
        ],
        env: { HOME: workDir },
        probe: () => httpOk(`http://127.0.0.1:${kwokPort}/healthz`),
      }),
    );

    const nodeFile = join(workDir, "node.json");
    writeFileSync(nodeFile, JSON.stringify(NODE_MANIFEST));
    await kubectl(state, ["apply", "--server-side", "-f", nodeFile]);
    await kubectl(state, ["wait", "--for=condition=Ready", "--timeout=60s", `node/${NODE_NAME}`]);
    progress(`[cluster] control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s (${workDir})`);
    return new ControlPlane(state, processes, pki, bins);
  } catch (err) {
    for (const name of ["kwok", "kube-controller-manager", "kube-apiserver", "etcd"] as const) await processes.get(name)?.stop();
    if (!process.env.TUNNELKEEPER_KEEP_FAILED_CLUSTER) rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

/** Stops a control plane left running by `up`, from its saved state (in the order of `stop()`). */
export async function stopDetached(state: ControlPlaneState): Promise<void> {
  const stop = (name: string) => (state.pids[name] !== undefined ? stopPid(state.pids[name]!) : undefined);
  await Promise.all(["kwok", "kube-controller-manager", "kube-apiserver"].map(stop));
  await stop("etcd");
  rmSync(state.workDir, { recursive: true, force: true });
}
