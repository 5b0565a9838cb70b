// tunnelkeeper as users run it: `helm install` of charts/tunnelkeeper with the image built from
// this checkout's Dockerfile, controller and gateway as real pods under the chart's
// ServiceAccounts (real RBAC, no admin credentials in the data path), backends and clients as
// real pods, and every byte going client pod → kube-proxy → gateway pod → kube-apiserver
// pods/portforward → kubelet → containerd → backend pod. Names resolve through CoreDNS.
//
// The scenarios share one installation and run in order; the last one uninstalls it. Figures
// (failover time, failed connections during rollouts, takeover time) are test diagnostics:
// `npx node test/run-suite.ts "test/in-cluster/*.test.ts"` prints them.
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { CONTROLLER_LEASE_NAME } from "../../src/api/identity.ts";
import {
  clientPod,
  installArgs,
  parseLines,
  RELEASE,
  runClient,
  type StreamReport,
  SYSTEM,
  streamReport,
  testNamespace,
} from "../support/in-cluster-pods.ts";
import {
  apply,
  CHART_DIR,
  eventually,
  helm,
  kubectl,
  kubectlResult,
  podLogs,
  podOutcome,
  RESTRICTED_CONTAINER,
  testNode,
} from "../support/real-node.ts";

const PF = "tunnelkeeper.io/v1alpha1";
const namespaces: string[] = [];
const namespace = (prefix: string) => testNamespace(prefix, namespaces);

/** An echo backend container (busybox): every connection gets its bytes back. */
function echoContainer(port = 9000) {
  return {
    name: "echo",
    image: testNode().images.tools,
    imagePullPolicy: "Never",
    command: ["/bin/nc", "-ll", "-p", String(port), "-e", "/bin/cat"],
    ports: [{ name: "echo", containerPort: port }],
    readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
    securityContext: RESTRICTED_CONTAINER,
  };
}

function podTemplate(labels: Record<string, string>) {
  return { metadata: { labels }, spec: { terminationGracePeriodSeconds: 1, containers: [echoContainer()] } };
}

function portForward(ns: string, name: string, target: object, port = 9000, extra: object = {}) {
  return {
    apiVersion: PF,
    kind: "PortForward",
    metadata: { name, namespace: ns },
    spec: { target, ports: [{ port, targetPort: port }], ...extra },
  };
}

async function waitReady(ns: string, ...names: string[]): Promise<void> {
  await kubectl(["wait", "-n", ns, "--for=condition=Ready", "--timeout=180s", ...names.map((n) => `portforwards.tunnelkeeper.io/${n}`)]);
}

/** The fields of a pod this file reads (as `kubectl get -o json` returns them for a running pod). */
interface LivePod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    nodeName: string;
    serviceAccountName: string;
    securityContext: { runAsNonRoot?: boolean };
    containers: {
      image: string;
      securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
      readinessProbe?: object;
      livenessProbe?: object;
    }[];
  };
  status: { phase: string; containerStatuses?: { ready: boolean }[] };
}

/** Starts a stream client, waits until it has succeeded a few times, runs `during`, then collects it. */
async function underStream(t: TestContext, ns: string, host: string, seconds: number, during: () => Promise<void>): Promise<StreamReport> {
  const name = `stream-${Math.random().toString(16).slice(2, 6)}`;
  await apply([clientPod(ns, name, ["stream", host, "9000", String(seconds), "100"])]);
  await eventually(
    `${name} connecting`,
    async () => ((await podLogs(ns, name)).split('"ok":true').length > 10 ? true : undefined),
    120_000,
  );
  const started = Date.now();
  await during();
  t.diagnostic(`the change took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const { logs } = await podOutcome(ns, name, (seconds + 120) * 1000);
  return streamReport(parseLines(logs));
}

describe("the Helm chart on a real node", { concurrency: false }, () => {
  let installed = false;

  before(async () => {
    const started = Date.now();
    // The earlier phases of the suite installed the CRD (and cluster-scoped RBAC and admission
    // objects) by hand on this control plane; --take-ownership lets the release adopt them, as it
    // would adopt a CRD applied by a GitOps tool before the chart.
    await helm(["install", RELEASE, CHART_DIR, "--create-namespace", "--take-ownership", ...installArgs(), "--wait", "--timeout", "300s"]);
    installed = true;
    process.stdout.write(`# helm install --wait took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  after(async () => {
    if (installed) await helm(["uninstall", RELEASE, "--namespace", SYSTEM, "--wait", "--timeout", "120s"]).catch(() => undefined);
    for (const ns of namespaces) await kubectlResult(["delete", "namespace", ns, "--wait=false"]);
  });

  it("runs both Deployments Ready on the node with the chart's security contexts, probes and ServiceAccounts", async () => {
    const node = testNode();
    const pods = JSON.parse(await kubectl(["get", "pods", "-n", SYSTEM, "-o", "json"])) as { items: LivePod[] };
    const byComponent = (component: string) => pods.items.filter((p) => p.metadata.labels?.["app.kubernetes.io/component"] === component);
    for (const component of ["controller", "gateway"]) {
      const list = byComponent(component);
      assert.equal(list.length, 2, `two ${component} pods`);
      for (const pod of list) {
        assert.equal(pod.spec.nodeName, node.name, `${pod.metadata.name} runs on the real node`);
        assert.equal(pod.status.phase, "Running");
        assert.ok(
          (pod.status.containerStatuses ?? []).every((c) => c.ready),
          `${pod.metadata.name} is ready`,
        );
        assert.match(pod.spec.serviceAccountName, new RegExp(`tunnelkeeper-${component}`), "the chart's own ServiceAccount");
        const container = pod.spec.containers[0]!;
        assert.equal(container.image, node.images.app);
        assert.equal(container.securityContext.readOnlyRootFilesystem, true);
        assert.equal(container.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(container.securityContext.capabilities?.drop, ["ALL"]);
        assert.equal(pod.spec.securityContext.runAsNonRoot, true);
        assert.ok(container.readinessProbe && container.livenessProbe, "probes are set");
        assert.ok(!JSON.stringify(pod.spec).includes("kubeconfig"), "no kubeconfig mounted: in-cluster ServiceAccount credentials only");
      }
    }
    // The process really runs as the chart's non-root uid.
    const gateway = byComponent("gateway")[0]!.metadata.name;
    const status = await kubectl(["exec", "-n", SYSTEM, gateway, "--", "node", "-e", "console.log(process.getuid())"]);
    assert.equal(status.trim(), "65532");
  });

  it("serves the seed scenario: a client pod fetches /productpage through the PortForward's Service by name from both replicas", async () => {
    const ns = await namespace("bookinfo");
    const httpd = {
      name: "productpage",
      image: testNode().images.tools,
      imagePullPolicy: "Never",
      command: ["/bin/sh", "-c", 'echo "productpage served by $(hostname)" > /www/productpage && exec /bin/httpd -f -p 9080 -h /www'],
      ports: [{ name: "http", containerPort: 9080 }],
      readinessProbe: { httpGet: { path: "/productpage", port: 9080 }, periodSeconds: 1 },
      securityContext: RESTRICTED_CONTAINER,
      volumeMounts: [{ name: "www", mountPath: "/www" }],
    };
    await apply([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "productpage", namespace: ns },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "productpage" } },
          template: {
            metadata: { labels: { app: "productpage" } },
            spec: { containers: [httpd], volumes: [{ name: "www", emptyDir: {} }] },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "productpage", namespace: ns },
        spec: { selector: { app: "productpage" }, ports: [{ name: "http", port: 9080, targetPort: "http" }] },
      },
      portForward(ns, "productpage-tunnel", { service: "productpage" }, 9080),
    ]);
    await kubectl(["rollout", "status", "-n", ns, "deployment/productpage", "--timeout=120s"]);
    await waitReady(ns, "productpage-tunnel");
    const script = [
      "ok=0; for i in $(seq 1 60); do",
      `  out=$(printf 'GET /productpage HTTP/1.0\\r\\n\\r\\n' | nc -w 5 productpage-tunnel.${ns} 9080 | tail -1)`,
      '  case "$out" in *served*) echo "$out"; ok=$((ok+1));; *) sleep 1;; esac',
      "  [ $ok -ge 20 ] && break",
      "done",
    ].join("\n");
    await apply([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "reader", namespace: ns },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "reader",
              image: testNode().images.tools,
              imagePullPolicy: "Never",
              command: ["/bin/sh", "-c", script],
              securityContext: RESTRICTED_CONTAINER,
            },
          ],
        },
      },
    ]);
    const { logs } = await podOutcome(ns, "reader");
    const answers = logs.split("\n").filter((line) => line.includes("served by"));
    assert.ok(answers.length >= 20, `20 answers through productpage-tunnel.${ns}:9080, got:\n${logs}`);
    const pods = new Set(answers.map((line) => line.split("served by ")[1]));
    assert.equal(pods.size, 2, `both replicas answered: ${[...pods].join(", ")}`);
  });

  it("carries SHA-256-verified bytes from client pods for every target kind (64 MiB through a Deployment)", async (t) => {
    const ns = await namespace("targets");
    const labels = (kind: string) => ({ app: `echo-${kind}` });
    await apply([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "echo-pod", namespace: ns, labels: labels("pod") },
        spec: podTemplate(labels("pod")).spec,
      },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "echo-sel", namespace: ns, labels: labels("selector") },
        spec: podTemplate(labels("selector")).spec,
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "echo-deploy", namespace: ns },
        spec: { replicas: 2, selector: { matchLabels: labels("deploy") }, template: podTemplate(labels("deploy")) },
      },
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "echo-sts", namespace: ns },
        spec: { replicas: 2, serviceName: "echo-sts", selector: { matchLabels: labels("sts") }, template: podTemplate(labels("sts")) },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "echo-svc", namespace: ns },
        spec: { selector: labels("deploy"), ports: [{ name: "tcp", port: 7000, targetPort: "echo" }] },
      },
      portForward(ns, "to-pod", { pod: "echo-pod" }),
      portForward(ns, "to-selector", { selector: { matchLabels: labels("selector") } }),
      portForward(ns, "to-service", { service: "echo-svc" }, 7000),
      portForward(ns, "to-deployment", { workload: { kind: "Deployment", name: "echo-deploy" } }),
      portForward(ns, "to-statefulset", { workload: { kind: "StatefulSet", name: "echo-sts" } }),
    ]);
    await waitReady(ns, "to-pod", "to-selector", "to-service", "to-deployment", "to-statefulset");
    const cases: [string, number, number][] = [
      ["to-pod", 9000, 1 << 20],
      ["to-selector", 9000, 1 << 20],
      ["to-service", 7000, 1 << 20],
      ["to-statefulset", 9000, 1 << 20],
      ["to-deployment", 9000, 64 << 20],
    ];
    for (const [service, port, bytes] of cases) {
      const { phase, lines } = await runClient(ns, `client-${service}`, ["verify", `${service}.${ns}`, String(port), String(bytes)]);
      const result = lines[0];
      assert.ok(result, `${service}: the client printed no result`);
      assert.equal(result.error, undefined, `${service}: ${result.error}`);
      assert.equal(result.equal, true, `${service}: ${JSON.stringify(result)}`);
      assert.equal(phase, "Succeeded");
      t.diagnostic(`${service}: ${bytes} bytes echoed and verified in ${result.ms} ms`);
    }
  });

  it("keeps serving new connections while the target Deployment rolls out", async (t) => {
    const ns = await namespace("rollout");
    await apply([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "echo", namespace: ns },
        spec: { replicas: 2, selector: { matchLabels: { app: "echo" } }, template: podTemplate({ app: "echo" }) },
      },
      portForward(ns, "echo-pf", { workload: { kind: "Deployment", name: "echo" } }),
    ]);
    await waitReady(ns, "echo-pf");
    const report = await underStream(t, ns, `echo-pf.${ns}`, 45, async () => {
      await kubectl(["rollout", "restart", "-n", ns, "deployment/echo"]);
      await kubectl(["rollout", "status", "-n", ns, "deployment/echo", "--timeout=120s"]);
    });
    t.diagnostic(
      `target rollout: ${report.failed} of ${report.total} new connections failed; longest gap between successes ${report.longestGapMs} ms; ${report.failures.join("; ")}`,
    );
    assert.ok(report.total > 100, "the stream ran");
    // A rolling update keeps a ready pod at all times and new connections move to it at once.
    assert.ok(report.failed <= report.total / 100, `new connections keep succeeding through the rollout: ${JSON.stringify(report)}`);
  });

  it("keeps serving new connections through a gateway rolling update (helm upgrade)", async (t) => {
    const ns = await namespace("gwroll");
    await apply([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "echo", namespace: ns },
        spec: { replicas: 1, selector: { matchLabels: { app: "echo" } }, template: podTemplate({ app: "echo" }) },
      },
      portForward(ns, "echo-pf", { workload: { kind: "Deployment", name: "echo" } }),
    ]);
    await waitReady(ns, "echo-pf");
    const report = await underStream(t, ns, `echo-pf.${ns}`, 60, async () => {
      await helm([
        "upgrade",
        RELEASE,
        CHART_DIR,
        ...installArgs(),
        "--reuse-values",
        "--set-string",
        `gateway.podAnnotations.tunnelkeeper\\.io/restarted-at=${Date.now()}`,
        "--wait",
        "--timeout",
        "300s",
      ]);
    });
    t.diagnostic(
      `gateway rollout: ${report.failed} of ${report.total} new connections failed; longest gap between successes ${report.longestGapMs} ms; ${report.failures.join("; ")}`,
    );
    assert.ok(report.total > 100, "the stream ran");
    // A terminating gateway leaves the EndpointSlices first and keeps accepting for
    // gateway.shutdownDelay, so new connections never meet a closed listener (0 failed is the
    // design; 1% leaves room for a slow kube-proxy sync on a loaded machine).
    assert.ok(report.failed <= report.total / 100, `new connections keep succeeding through the rollout: ${JSON.stringify(report)}`);
    await waitReady(ns, "echo-pf");
  });

  it("hands the controller's Lease to the other replica when the leader's pod is deleted", async (t) => {
    const holder = async () =>
      (await kubectl(["get", "lease", "-n", SYSTEM, CONTROLLER_LEASE_NAME, "-o", "jsonpath={.spec.holderIdentity}"])).trim();
    const leader = await eventually("a controller leader", async () => (await holder()) || undefined);
    const leaderPod = leader.split("_")[0]!;
    const started = Date.now();
    await kubectl(["delete", "pod", "-n", SYSTEM, leaderPod, "--wait=false"]);
    const next = await eventually("another controller leading", async () => {
      const now = await holder();
      return now && !now.startsWith(leaderPod) ? now : undefined;
    });
    const takeoverMs = Date.now() - started;
    t.diagnostic(`controller takeover: ${leaderPod} deleted, ${next.split("_")[0]} leads after ${takeoverMs} ms`);
    // the new leader reconciles: a new PortForward becomes Ready
    const ns = await namespace("takeover");
    await apply([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "echo", namespace: ns, labels: { app: "echo" } },
        spec: podTemplate({ app: "echo" }).spec,
      },
      portForward(ns, "after-takeover", { pod: "echo" }),
    ]);
    await waitReady(ns, "after-takeover");
    t.diagnostic(`PortForward created after the takeover Ready ${Date.now() - started} ms after the leader's pod was deleted`);
  });

  it("helm uninstall leaves no tunnelkeeper pod and keeps the CRD; the PortForwards' Services and EndpointSlices go with them", async (t) => {
    const ns = namespaces[0]!;
    await helm(["uninstall", RELEASE, "--namespace", SYSTEM, "--wait", "--timeout", "120s"]);
    installed = false;
    await eventually("no pod left in the release namespace", async () => {
      const left = (await kubectl(["get", "pods", "-n", SYSTEM, "-o", "name"])).trim();
      return left === "" ? true : undefined;
    });
    const crd = await kubectlResult(["get", "crd", "portforwards.tunnelkeeper.io", "-o", "name"]);
    assert.equal(crd.code, 0, "crds.keep: the CRD stays, so PortForwards in Git survive a reinstall");
    const pfs = await kubectl(["get", "portforwards.tunnelkeeper.io", "-n", ns, "-o", "name"]);
    assert.match(pfs, /productpage-tunnel/, "PortForwards are users' objects: uninstalling the operator keeps them");
    // Their Services and EndpointSlices are owned by them (ownerReferences): deleting the
    // PortForwards removes them through the garbage collector, with no operator running.
    await kubectl(["delete", "portforwards.tunnelkeeper.io", "--all", "-n", ns, "--wait=true", "--timeout=60s"]);
    await eventually("the PortForward's Service and EndpointSlice gone", async () => {
      const svc = await kubectlResult(["get", "service", "-n", ns, "productpage-tunnel"]);
      const slices = (
        await kubectl(["get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=productpage-tunnel", "-o", "name"])
      ).trim();
      return svc.code !== 0 && slices === "" ? true : undefined;
    });
    t.diagnostic("after uninstall: no pod, CRD kept, Services/EndpointSlices garbage-collected with their PortForwards");
  });
});
