// `tunnelkeeper forward` side by side with the built `kubectl port-forward` on the same pods of a
// real control plane: for every argument form, both print the same lines, listen on the same
// addresses and ports, carry the same bytes, and print "Handling connection for" per connection.
// Then what kubectl cannot do: wait for a pod created after the start, and -f manifests.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { createBackedPod } from "../cluster/pods.ts";
import { freePort } from "../cluster/probes.ts";
import { MAIN, runCli, startCli } from "../support/cli-process.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { startEchoServer } from "../support/tcp-servers.ts";
import { echoOnce } from "../support/tunnel-traffic.ts";

const node = process.execPath;

interface Fixture {
  readonly namespace: string;
  /** Pod ports (unused host port numbers, so `REMOTE` alone can listen on them locally). */
  readonly podPort: number;
  readonly namedPodPort: number;
  readonly servicePort: number;
}

/** A pod `web` (ports podPort and namedPodPort "http"), Service `web` (servicePort "api" → podPort), Deployment `api`. */
async function setUp(t: TestContext): Promise<Fixture> {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "cli-fwd");
  const echo = await startEchoServer(t);
  const [podPort, namedPodPort, servicePort] = [await freePort(), await freePort(), await freePort()];
  await createBackedPod(cluster.admin, {
    namespace,
    name: "web",
    labels: { app: "web" },
    ports: [
      { podPort, host: "127.0.0.1", port: echo.port },
      { podPort: namedPodPort, host: "127.0.0.1", port: echo.port, name: "http" },
    ],
  });
  await cluster.admin.makeApiClient(CoreV1Api).createNamespacedService({
    namespace,
    body: {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "api", port: servicePort, targetPort: podPort }] },
    },
  });
  const custom = cluster.admin.makeApiClient(CustomObjectsApi);
  const cpf = { group: "kwok.x-k8s.io", version: "v1alpha1", plural: "clusterportforwards" };
  await custom.createClusterCustomObject({
    ...cpf,
    body: {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "ClusterPortForward",
      metadata: { name: namespace },
      spec: {
        selector: { matchNamespaces: [namespace] },
        forwards: [{ ports: [podPort], target: { address: "127.0.0.1", port: echo.port } }],
      },
    },
  });
  t.after(() => custom.deleteClusterCustomObject({ ...cpf, name: namespace }).catch(() => undefined));
  await cluster.admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: "api" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "api" } },
        template: {
          metadata: { labels: { app: "api" } },
          spec: {
            nodeName: "kwok-node-0",
            tolerations: [{ operator: "Exists" }],
            containers: [{ name: "api", image: "tunnelkeeper.test/backend:1", ports: [{ containerPort: podPort }] }],
          },
        },
      },
    },
  });
  return { namespace, podPort, namedPodPort, servicePort };
}

function addressOf(hostPort: string): { host: string; port: number } {
  const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(hostPort)!;
  return { host: match[1]!, port: Number(match[2]) };
}

interface Observed {
  /** "Forwarding from" lines, with ports picked at random replaced by <random>. */
  readonly lines: string[];
  readonly handling: string[];
  readonly echoed: boolean;
}

/** Runs one forwarder, reads its lines, sends bytes through every address it printed, stops it. */
async function observe(t: TestContext, file: string, args: string[], expectedLines: number, randomPorts: boolean): Promise<Observed> {
  const cli = startCli(file, args, t);
  await cli.waitForLine(/^Forwarding from /);
  const deadline = Date.now() + 10_000;
  while (cli.stdout.filter((l) => l.startsWith("Forwarding from ")).length < expectedLines && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const forwarding = cli.stdout.filter((l) => l.startsWith("Forwarding from "));
  let echoed = true;
  for (const line of forwarding) {
    const { host, port } = addressOf(line.split(" ")[2]!);
    const socket = connect({ host, port });
    const payload = randomBytes(64 * 1024);
    const back = await echoOnce(socket, payload).catch(() => Buffer.alloc(0));
    socket.destroy();
    echoed &&= back.equals(payload);
  }
  const handlingDeadline = Date.now() + 10_000;
  while (cli.stdout.filter((l) => l.startsWith("Handling connection for ")).length < forwarding.length && Date.now() < handlingDeadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await cli.interrupt("SIGINT");
  const lines = forwarding.map((l) => (randomPorts ? l.replace(/:\d+ ->/, ":<random> ->") : l));
  const handling = cli.stdout
    .filter((l) => l.startsWith("Handling connection for "))
    .map((l) => (randomPorts ? "Handling connection for <random>" : l));
  return { lines, handling, echoed };
}

describe("tunnelkeeper forward side by side with kubectl port-forward", () => {
  it("matches kubectl's lines, listeners and bytes for every argument form", async (t) => {
    const cluster = testCluster();
    const f = await setUp(t);
    const [local1, local2] = [await freePort(), await freePort()];
    const forms: { args: string[]; lines: number; random?: boolean }[] = [
      { args: ["web", String(f.podPort)], lines: 2 },
      { args: ["pod/web", `${local1}:${f.podPort}`, "--address", "127.0.0.1"], lines: 1 },
      { args: ["po/web", `:${f.podPort}`], lines: 2, random: true },
      { args: ["pods/web", `${local1}:http`], lines: 2 },
      { args: ["pod/web", "http"], lines: 2 },
      { args: ["svc/web", String(f.servicePort)], lines: 2 },
      { args: ["service/web", `${local2}:api`, "--address", "127.0.0.1,::1"], lines: 2 },
      { args: ["services/web", "api"], lines: 2 },
      { args: ["deploy/api", `${local1}:${f.podPort}`, `${local2}:${f.podPort}`], lines: 4 },
      { args: ["deployment/api", String(f.podPort), "--address", "::1"], lines: 1 },
    ];
    const common = ["-n", f.namespace, "--kubeconfig", cluster.state.kubeconfig];
    for (const form of forms) {
      const kubectl = await observe(t, cluster.kubectl, ["port-forward", ...form.args, ...common], form.lines, form.random ?? false);
      const ours = await observe(t, node, [MAIN, "forward", ...form.args, ...common], form.lines, form.random ?? false);
      const what = form.args.join(" ");
      assert.equal(kubectl.lines.length, form.lines, `kubectl ${what}: ${kubectl.lines.join("\n")}`);
      assert.deepEqual(ours.lines, kubectl.lines, `forward ${what}: the same "Forwarding from" lines as kubectl`);
      assert.ok(kubectl.echoed, `kubectl ${what} carried the bytes`);
      assert.ok(ours.echoed, `forward ${what} carried the same bytes back`);
      assert.deepEqual(ours.handling, kubectl.handling, `forward ${what}: one "Handling connection for" line per connection, as kubectl`);
    }
  });

  it("waits --pod-running-timeout for a pod created after it started (kubectl refuses a missing pod at once)", async (t) => {
    const cluster = testCluster();
    const namespace = await testNamespace(t, "cli-late");
    const echo = await startEchoServer(t);
    const podPort = await freePort();
    const common = ["-n", namespace, "--kubeconfig", cluster.state.kubeconfig, "--address", "127.0.0.1"];
    const kubectl = await runCli(cluster.kubectl, ["port-forward", "pod/late", String(podPort), ...common], t);
    assert.notEqual(kubectl.code, 0);
    assert.match(kubectl.stderr.join("\n"), /pods "late" not found/);

    const ours = startCli(node, [MAIN, "forward", "pod/late", String(podPort), "--pod-running-timeout", "60s", ...common], t);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(ours.stdout, [], "nothing listens before the pod runs");
    await createBackedPod(cluster.admin, { namespace, name: "late", ports: [{ podPort, host: "127.0.0.1", port: echo.port }] });
    await ours.waitForLine(new RegExp(`^Forwarding from 127\\.0\\.0\\.1:${podPort} -> ${podPort}$`), 30_000);
    const socket = connect({ host: "127.0.0.1", port: podPort });
    const payload = randomBytes(4096);
    assert.deepEqual(await echoOnce(socket, payload), payload);
    socket.destroy();
    const { code, ms } = await ours.interrupt("SIGINT");
    t.diagnostic(`forward: exit ${code} ${ms.toFixed(0)} ms after SIGINT`);
    assert.equal(code, 0);
    assert.ok(ms < 2000, `forward took ${ms.toFixed(0)} ms to exit after Ctrl-C (limit 2 s)`);
  });

  it("gives up after --pod-running-timeout with one line and exit 1", async (t) => {
    const cluster = testCluster();
    const namespace = await testNamespace(t, "cli-never");
    const result = await runCli(
      node,
      [MAIN, "forward", "deploy/none", "8080", "-n", namespace, "--kubeconfig", cluster.state.kubeconfig, "--pod-running-timeout", "2s"],
      t,
    );
    assert.equal(result.code, 1);
    assert.equal(result.stderr.length, 1, result.stderr.join("\n"));
    assert.match(
      result.stderr[0]!,
      /^error: timed out after 2s \(--pod-running-timeout\) waiting for a running pod in namespace cli-never-\w+: Deployment "none" was not found/,
    );
  });

  it("merges a KUBECONFIG list the kubectl way (the first file's current-context wins)", async (t) => {
    const cluster = testCluster();
    const f = await setUp(t);
    const dir = mkdtempSync(join(tmpdir(), "tk-kubeconfig-"));
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    const cli = startCli(node, [MAIN, "forward", "web", `:${f.podPort}`, "-n", f.namespace, "--address", "127.0.0.1"], t, {
      KUBECONFIG: `${cluster.state.kubeconfig}:${empty}`,
    });
    await cli.waitForLine(/^Forwarding from 127\.0\.0\.1:\d+ -> \d+$/, 30_000);
    assert.equal((await cli.interrupt("SIGINT")).code, 0);
  });
});

describe("tunnelkeeper forward -f", () => {
  it("runs a directory of PortForward manifests locally with one status line each", async (t) => {
    const cluster = testCluster();
    const f = await setUp(t);
    const dir = mkdtempSync(join(tmpdir(), "tk-manifests-"));
    const offset = (await freePort()) - f.podPort;
    const servicePortOf = (n: number) => n;
    writeFileSync(
      join(dir, "web.yaml"),
      [
        "apiVersion: tunnelkeeper.io/v1alpha1",
        "kind: PortForward",
        "metadata: {name: web-pod}",
        `spec: {target: {pod: web}, ports: [{port: ${servicePortOf(f.podPort)}, targetPort: ${f.podPort}}]}`,
        "---",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: ignored}",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "svc.yml"),
      `apiVersion: tunnelkeeper.io/v1alpha1\nkind: PortForward\nmetadata: {name: web-svc, namespace: ${f.namespace}}\nspec: {target: {service: web}, ports: [{port: ${f.namedPodPort}, targetPort: api}]}\n`,
    );
    writeFileSync(join(dir, "README.md"), "not a manifest\n");
    const cli = startCli(
      node,
      [
        MAIN,
        "forward",
        "-f",
        dir,
        "-n",
        f.namespace,
        "--kubeconfig",
        cluster.state.kubeconfig,
        "--address",
        "127.0.0.1",
        "--port-offset",
        String(offset),
      ],
      t,
    );
    await cli.waitForLine(
      new RegExp(
        `^${f.namespace}/web-pod  127\\.0\\.0\\.1:${f.podPort + offset} -> pod/web:${f.podPort}  Ready: 1/1 pods ready, 1 tunnel open`,
      ),
      30_000,
    );
    await cli.waitForLine(
      new RegExp(
        `^${f.namespace}/web-svc  127\\.0\\.0\\.1:${f.namedPodPort + offset} -> service/web:${f.namedPodPort}  Ready: 1/1 pods ready`,
      ),
      30_000,
    );
    for (const port of [f.podPort + offset, f.namedPodPort + offset]) {
      const socket = connect({ host: "127.0.0.1", port });
      const payload = randomBytes(8192);
      assert.deepEqual(await echoOnce(socket, payload), payload, `bytes through ${port}`);
      socket.destroy();
    }
    assert.ok(
      cli.stderr.some((l) => l.includes("skipped ConfigMap")),
      cli.stderr.join("\n"),
    );
    const { code, ms } = await cli.interrupt("SIGINT");
    assert.equal(code, 0);
    assert.ok(ms < 2000, `forward -f took ${ms.toFixed(0)} ms to exit after Ctrl-C (limit 2 s)`);
  });

  it("refuses an invalid manifest before listening, naming the file, the document and the field", async (t) => {
    const cluster = testCluster();
    const dir = mkdtempSync(join(tmpdir(), "tk-bad-"));
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "apiVersion: tunnelkeeper.io/v1alpha1\nkind: PortForward\nmetadata: {name: db}\nspec: {target: {pod: db}, ports: [{port: 0, targetPort: 5432}]}\n",
    );
    const result = await runCli(node, [MAIN, "forward", "-f", bad, "--kubeconfig", cluster.state.kubeconfig], t);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.length, 1, result.stderr.join("\n"));
    assert.match(
      result.stderr[0]!,
      new RegExp(`^error: ${bad.replaceAll(".", "\\.")} \\(document 1, PortForward "db"\\): spec\\.ports\\[0\\]\\.port: `),
    );
    assert.deepEqual(result.stdout, []);
  });
});
