// The chart's ValidatingAdmissionPolicy against the suite's real API server: a PortForward is
// admitted only from users who may themselves create pods/portforward in its namespace, the
// denial says who, where, what is missing and how to fix it, and status writes (the
// controller's and the gateways') are never blocked.
//
// The policy is rendered from the chart and bound to this test's namespace only
// (admissionPolicy.namespaceSelector), so it cannot interfere with other tests running at
// the same time. The CRD is applied server-side and left in place (other tests share it).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

const CHART = join(import.meta.dirname, "..", "..", "charts", "tunnelkeeper");

async function kubectl(
  args: readonly string[],
  options: { as?: string; kubeconfig?: string; input?: string } = {},
): Promise<CommandResult> {
  const cluster = testCluster();
  const auth = ["--kubeconfig", options.kubeconfig ?? cluster.state.kubeconfig, ...(options.as ? [`--as=${options.as}`] : [])];
  return runCommand(cluster.kubectl, [...auth, ...args], options.input);
}

async function kubectlOk(args: readonly string[], options: { as?: string; kubeconfig?: string; input?: string } = {}): Promise<string> {
  const result = await kubectl(args, options);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function portForward(namespace: string, name: string, target: Record<string, unknown>, extraSpec: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: "tunnelkeeper.io/v1alpha1",
    kind: "PortForward",
    metadata: { name, namespace },
    spec: { target, ports: [{ port: 8080, targetPort: 8080 }], ...extraSpec },
  });
}

const REMOTE = { cluster: { kubeconfigSecretRef: { name: "cluster-b" } } };

/** Renders the CRD and the admission policy from the chart, bound to `namespace` only. */
async function renderPolicy(
  release: string,
  namespace: string,
  extraValues: Record<string, unknown> = {},
): Promise<{ crd: string; policy: string }> {
  const { state } = testCluster();
  const dir = mkdtempSync(join(tmpdir(), "tk-vap-"));
  try {
    const values = join(dir, "values.yaml");
    writeFileSync(
      values,
      stringify({
        admissionPolicy: { enabled: true, namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
        ...extraValues,
      }),
    );
    const template = async (file: string) => {
      const result = await runCommand(state.helm, [
        "template",
        release,
        CHART,
        "--kube-version",
        "1.36.3",
        "-f",
        values,
        "--show-only",
        file,
      ]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout;
    };
    return {
      crd: await template("templates/crds/tunnelkeeper.io_portforwards.yaml"),
      policy: await template("templates/admission/validatingadmissionpolicy.yaml"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Role granting `user` the given rules in `namespace`, bound to it. */
async function grant(namespace: string, name: string, user: string, rules: readonly Record<string, unknown>[]): Promise<void> {
  const manifest = [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  ]
    .map((doc) => stringify(doc))
    .join("---\n");
  await kubectlOk(["apply", "--server-side", "--field-manager=admission-policy-test", "-f", "-"], { input: manifest });
}

const PORTFORWARD_RULES = [
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards/status"], verbs: ["get", "patch", "update"] },
];
const PODS_PORTFORWARD_RULE = { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] };

async function installPolicy(
  t: import("node:test").TestContext,
  namespace: string,
  extraValues: Record<string, unknown> = {},
): Promise<string> {
  const release = `vap-${randomBytes(3).toString("hex")}`;
  const { crd, policy } = await renderPolicy(release, namespace, extraValues);
  await kubectlOk(["apply", "--server-side", "--field-manager=admission-policy-test", "-f", "-"], { input: crd });
  await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", "crd/portforwards.tunnelkeeper.io"]);
  await kubectlOk(["apply", "--server-side", "--field-manager=admission-policy-test", "-f", "-"], { input: policy });
  const name = `${release}-tunnelkeeper-portforward-authz`;
  t.after(async () => {
    await kubectl(["delete", "--ignore-not-found", `validatingadmissionpolicybinding/${name}`, `validatingadmissionpolicy/${name}`]);
  });
  // The policy's type check must find no problem with the expressions against the CRD's schema.
  const typeChecking = await eventually("the policy type check", async () => {
    const out = await kubectlOk(["get", `validatingadmissionpolicy/${name}`, "-o", "json"]);
    const vap = JSON.parse(out) as {
      metadata: { generation: number };
      status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } };
    };
    return vap.status?.observedGeneration === vap.metadata.generation ? (vap.status.typeChecking ?? {}) : undefined;
  });
  assert.deepEqual(typeChecking.expressionWarnings ?? [], []);
  return name;
}

test("a user without pods/portforward is refused a PortForward with a message that says how to fix it; granting it admits the same PortForward", async (t) => {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "vap");
  const policy = await installPolicy(t, namespace);
  await grant(namespace, "portforward-writer", "tester", PORTFORWARD_RULES);
  const manifest = portForward(namespace, "web", { selector: { matchLabels: { app: "web" } } });
  const asTester = { kubeconfig: cluster.state.unprivilegedKubeconfig, input: manifest };

  // The binding takes a moment to become effective; a server-side dry run goes through admission
  // without creating anything.
  const refusal = await eventually("the policy to refuse tester", async () => {
    const result = await kubectl(["create", "--dry-run=server", "-f", "-"], asTester);
    return result.code !== 0 && result.stderr.includes("ValidatingAdmissionPolicy") ? result : undefined;
  });
  assert.match(refusal.stderr, new RegExp(`ValidatingAdmissionPolicy '${policy}'`));

  const denied = await kubectl(["create", "-f", "-"], asTester);
  assert.notEqual(denied.code, 0, "the PortForward was created although tester may not port-forward");
  assert.match(denied.stderr, /forbidden/i);
  assert.match(denied.stderr, /user "tester"/);
  assert.match(denied.stderr, new RegExp(`namespace "${namespace}"`));
  assert.match(denied.stderr, /create pods\/portforward/);
  assert.match(denied.stderr, /Role .*pods\/portforward.*"get", "create"/);
  assert.equal(
    (await kubectl(["get", "-n", namespace, "portforwards.tunnelkeeper.io/web"])).code,
    1,
    "a refused PortForward must not exist",
  );

  await grant(namespace, "port-forwarder", "tester", [PODS_PORTFORWARD_RULE]);
  await eventually("tester to be admitted after the grant", async () => {
    const result = await kubectl(["create", "-f", "-"], asTester);
    return result.code === 0 ? result : undefined;
  });
  await kubectlOk(["get", "-n", namespace, "portforwards.tunnelkeeper.io/web"], { kubeconfig: cluster.state.unprivilegedKubeconfig });
});

test("status writes and metadata-only changes are not blocked; spec changes by a user without pods/portforward are", async (t) => {
  const namespace = await testNamespace(t, "vap");
  await installPolicy(t, namespace);
  const statusWriter = "status-writer";
  await grant(namespace, "status-writer", statusWriter, PORTFORWARD_RULES);
  await kubectlOk(["create", "-f", "-"], { input: portForward(namespace, "web", { pod: "web-0" }) });
  // Wait until the policy is in force, proven by a refused spec change.
  const specPatch = [
    "patch",
    "-n",
    namespace,
    "portforwards.tunnelkeeper.io/web",
    "--type=merge",
    "-p",
    '{"spec":{"target":{"pod":"web-1"}}}',
  ];
  const refused = await eventually("the policy to refuse a spec change", async () => {
    const result = await kubectl([...specPatch, "--dry-run=server"], { as: statusWriter });
    return result.code !== 0 && result.stderr.includes("ValidatingAdmissionPolicy") ? result : undefined;
  });
  assert.match(refused.stderr, /user "status-writer" may not create or change PortForward "web"/);

  const status = await kubectl(
    [
      "patch",
      "-n",
      namespace,
      "portforwards.tunnelkeeper.io/web",
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"observedGeneration":1}}',
    ],
    { as: statusWriter },
  );
  assert.equal(status.code, 0, `status patch was blocked: ${status.stderr}`);
  const observed = await kubectlOk([
    "get",
    "-n",
    namespace,
    "portforwards.tunnelkeeper.io/web",
    "-o",
    "jsonpath={.status.observedGeneration}",
  ]);
  assert.equal(observed, "1");

  const label = await kubectl(["label", "-n", namespace, "portforwards.tunnelkeeper.io/web", "team=payments"], { as: statusWriter });
  assert.equal(label.code, 0, `a metadata-only change was blocked: ${label.stderr}`);

  const spec = await kubectl(specPatch, { as: statusWriter });
  assert.notEqual(spec.code, 0, "a spec change by a user without pods/portforward was admitted");
  const target = await kubectlOk(["get", "-n", namespace, "portforwards.tunnelkeeper.io/web", "-o", "jsonpath={.spec.target.pod}"]);
  assert.equal(target, "web-0");
});

test("a pods/portforward grant scoped to one pod admits a PortForward to that pod only", async (t) => {
  const namespace = await testNamespace(t, "vap");
  await installPolicy(t, namespace);
  const user = "pod-scoped";
  await grant(namespace, "portforward-writer", user, PORTFORWARD_RULES);
  await grant(namespace, "web-0-forwarder", user, [{ ...PODS_PORTFORWARD_RULE, resourceNames: ["web-0"] }]);
  const other = portForward(namespace, "other", { pod: "web-1" });
  await eventually("the policy to refuse a PortForward to another pod", async () => {
    const result = await kubectl(["create", "--dry-run=server", "-f", "-"], { as: user, input: other });
    return result.code !== 0 && result.stderr.includes("ValidatingAdmissionPolicy") ? result : undefined;
  });
  const allowed = await kubectl(["create", "-f", "-"], { as: user, input: portForward(namespace, "web", { pod: "web-0" }) });
  assert.equal(allowed.code, 0, `the PortForward to the granted pod was refused: ${allowed.stderr}`);
  const selector = await kubectl(["create", "-f", "-"], {
    as: user,
    input: portForward(namespace, "all", { selector: { matchLabels: { app: "web" } } }),
  });
  assert.notEqual(selector.code, 0, "a selector target needs namespace-wide pods/portforward");
  assert.match(selector.stderr, /may not create or change PortForward "all"/);
});

test("a remote PortForward is refused while remote clusters are disabled, saying which chart value enables them", async (t) => {
  const namespace = await testNamespace(t, "vap");
  await installPolicy(t, namespace);
  const refused = await eventually("the policy to refuse a remote PortForward", async () => {
    const result = await kubectl(["create", "--dry-run=server", "-f", "-"], {
      input: portForward(namespace, "far", { pod: "db-0" }, REMOTE),
    });
    return result.code !== 0 && result.stderr.includes("ValidatingAdmissionPolicy") ? result : undefined;
  });
  assert.match(refused.stderr, /names a remote cluster \(spec.cluster.kubeconfigSecretRef "cluster-b"\)/);
  assert.match(refused.stderr, /remoteClusters.enabled=true/);
});

test("a remote PortForward needs get on its kubeconfig Secret, not this cluster's pods/portforward", async (t) => {
  const namespace = await testNamespace(t, "vap");
  await installPolicy(t, namespace, { remoteClusters: { enabled: true } });
  const user = "remote-user";
  await grant(namespace, "portforward-writer", user, PORTFORWARD_RULES);
  const manifest = portForward(namespace, "far", { selector: { matchLabels: { app: "db" } } }, REMOTE);
  const refused = await eventually("the policy to refuse a user who may not read the Secret", async () => {
    const result = await kubectl(["create", "--dry-run=server", "-f", "-"], { as: user, input: manifest });
    return result.code !== 0 && result.stderr.includes("ValidatingAdmissionPolicy") ? result : undefined;
  });
  assert.match(refused.stderr, /user "remote-user" may not create or change PortForward "far"/);
  assert.match(refused.stderr, /Secret "cluster-b", which the user may not get/);
  assert.match(refused.stderr, /resourceNames: \["cluster-b"\]/);
  // pods/portforward in this cluster does not help: the pods are in the other one.
  await grant(namespace, "port-forwarder", user, [PODS_PORTFORWARD_RULE]);
  const stillRefused = await kubectl(["create", "--dry-run=server", "-f", "-"], { as: user, input: manifest });
  assert.notEqual(stillRefused.code, 0, "pods/portforward here must not stand in for the Secret");
  await grant(namespace, "cluster-b-reader", user, [
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["cluster-b"], verbs: ["get"] },
  ]);
  await eventually("the user to be admitted once it may get the Secret", async () => {
    const result = await kubectl(["create", "-f", "-"], { as: user, input: manifest });
    return result.code === 0 ? result : undefined;
  });
});
