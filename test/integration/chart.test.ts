// The Helm chart (charts/tunnelkeeper): lint, render and assert the rendered objects, values
// schema rejections, a server-side dry run of everything it renders, and a real
// `helm install` / `helm uninstall` against the suite's API server.
//
// The suite's control plane has no scheduler and no images, so the Deployments' pods are
// created (which proves Pod Security "restricted" admits them) but never run.
// Cluster-scoped objects get a release-unique name, the admission policy is bound to the
// test's namespace only, and the shared CRD is never deleted: other tests run at the same time.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, test } from "node:test";
import { parse, parseAllDocuments, stringify } from "yaml";
import { parseConfig } from "../../src/config.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { type CommandResult, runCommand } from "../support/run-command.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "charts", "tunnelkeeper");
const KUBE_VERSION = "1.36.3";

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field.
type Obj = Record<string, any>;

function helm(args: readonly string[]): Promise<CommandResult> {
  return runCommand(testCluster().state.helm, args);
}

async function kubectl(args: readonly string[], input?: string): Promise<CommandResult> {
  const cluster = testCluster();
  return runCommand(cluster.kubectl, ["--kubeconfig", cluster.state.kubeconfig, ...args], input);
}

async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const result = await kubectl(args, input);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** Writes `values` to a temporary values file for the duration of `use`. */
async function withValues<T>(values: Obj, use: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tk-chart-"));
  try {
    const file = join(dir, "values.yaml");
    writeFileSync(file, stringify(values));
    return await use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function template(
  values: Obj = {},
  extra: readonly string[] = [],
  release = "tk",
  namespace = "tunnelkeeper-system",
): Promise<CommandResult> {
  return withValues(values, (file) =>
    helm(["template", release, CHART, "--namespace", namespace, "--kube-version", KUBE_VERSION, "-f", file, ...extra]),
  );
}

async function render(
  values: Obj = {},
  extra: readonly string[] = [],
  release = "tk",
  namespace = "tunnelkeeper-system",
): Promise<{ text: string; objects: Obj[] }> {
  const result = await template(values, extra, release, namespace);
  assert.equal(result.code, 0, `helm template failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout)
    .map((doc) => {
      assert.deepEqual(doc.errors, [], "rendered YAML does not parse");
      return doc.toJS() as Obj | null;
    })
    .filter((obj): obj is Obj => obj !== null);
  return { text: result.stdout, objects };
}

function find(objects: readonly Obj[], kind: string, name: string): Obj {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `no ${kind} ${name} rendered; rendered: ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ")}`);
  return found;
}

function kinds(objects: readonly Obj[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

const NON_DEFAULT = {
  crds: { enabled: false },
  admissionPolicy: { enabled: false },
  networkPolicy: {
    enabled: true,
    gatewayFrom: [{ namespaceSelector: { matchLabels: { "tunnelkeeper.io/clients": "true" } } }],
    metricsFrom: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
  },
  metrics: { serviceMonitor: { enabled: true, labels: { release: "prometheus" } } },
  watchNamespaces: ["team-a", "team-b"],
  logLevel: "debug",
  image: { repository: "registry.example/tunnelkeeper", tag: "dev" },
  imagePullSecrets: [{ name: "regcred" }],
  controller: {
    replicas: 3,
    leaderElection: { enabled: false },
    priorityClassName: "system-cluster-critical",
    tolerations: [{ key: "dedicated", operator: "Exists" }],
  },
  gateway: {
    replicas: 4,
    replicasPerPortForward: 3,
    idleTunnelTimeout: "5m",
    counterWritesPerSecond: 0.5,
    portRange: { start: 30000, end: 30999 },
    drainTimeout: "1m",
    nodeSelector: { "kubernetes.io/os": "linux" },
  },
};

// Every option of issue #13 at once: the chart conventions per component and chart-wide, and
// every monitoring object with all of its options.
const RELABELINGS = [{ sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node", action: "replace" }];
const METRIC_RELABELINGS = [{ sourceLabels: ["__name__"], regex: "nodejs_heap_space_.*", action: "drop" }];
function componentOptions(component: string) {
  return {
    extraEnv: [{ name: "NODE_EXTRA_CA_CERTS", value: "/etc/corporate-ca/ca.crt" }],
    extraVolumes: [{ name: "corporate-ca", configMap: { name: "corporate-ca" } }],
    extraVolumeMounts: [{ name: "corporate-ca", mountPath: "/etc/corporate-ca", readOnly: true }],
    podSecurityContext: { fsGroupChangePolicy: "OnRootMismatch", supplementalGroups: [4000] },
    securityContext: { runAsUser: 70000, runAsGroup: 70000 },
    livenessProbe: { initialDelaySeconds: 20, failureThreshold: 6 },
    readinessProbe: { periodSeconds: 2 },
    startupProbe: { httpGet: { path: "/healthz", port: "metrics" }, failureThreshold: 30, periodSeconds: 2 },
    revisionHistoryLimit: component === "controller" ? 3 : 7,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
  };
}
const MONITOR_OPTIONS = {
  enabled: true,
  labels: { release: "prometheus" },
  annotations: { "example.com/owner": "platform" },
  interval: "15s",
  scrapeTimeout: "5s",
  honorLabels: false,
  relabelings: RELABELINGS,
  metricRelabelings: METRIC_RELABELINGS,
};
const EVERY_OPTION = {
  global: { imageRegistry: "mirror.example:5000" },
  commonLabels: { "example.com/team": "platform" },
  extraObjects: [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "corporate-ca", namespace: "{{ .Release.Namespace }}" },
      data: { "ca.crt": "not a real certificate" },
    },
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\n  namespace: {{ .Release.Namespace }}\ndata:\n  release: {{ .Release.Name | quote }}\n",
  ],
  controller: componentOptions("controller"),
  gateway: componentOptions("gateway"),
  metrics: {
    serviceMonitor: MONITOR_OPTIONS,
    prometheusRule: {
      enabled: true,
      labels: { release: "prometheus" },
      annotations: { "example.com/owner": "platform" },
      additionalAlertLabels: { team: "platform" },
      disabled: { TunnelkeeperWorkqueueBacklog: true },
      notReadyFor: "5m",
      reconnectStormRate: 1,
      workqueueDepth: 50,
    },
    dashboard: { enabled: true, labels: { grafana_dashboard: "1" }, annotations: { grafana_folder: "Operators" } },
  },
};
const OPENSHIFT = {
  controller: {
    podSecurityContext: { runAsUser: null, runAsGroup: null, fsGroup: null },
    securityContext: { runAsUser: null, runAsGroup: null },
  },
  gateway: {
    podSecurityContext: { runAsUser: null, runAsGroup: null, fsGroup: null },
    securityContext: { runAsUser: null, runAsGroup: null },
  },
  rbac: { ownerReferencesPermissionEnforcement: true },
};
const MONITORING_API = ["--api-versions", "monitoring.coreos.com/v1"];

// Exactly the rules of the CLI contract; anything more is a finding, anything less breaks a component.
const CONTROLLER_CLUSTER_RULES = [
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards/status"], verbs: ["get", "patch", "update"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "patch", "update", "delete"] },
  {
    apiGroups: ["discovery.k8s.io"],
    resources: ["endpointslices"],
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"],
  },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["apps"], resources: ["deployments", "statefulsets", "replicasets", "daemonsets"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];
const CONTROLLER_ROLE_RULES = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch", "create", "update"] },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
];
const GATEWAY_CLUSTER_RULES = [
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["tunnelkeeper.io"], resources: ["portforwards/status"], verbs: ["patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["apps"], resources: ["deployments", "statefulsets", "replicasets", "daemonsets"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
  // cluster-scoped: stays in the ClusterRole of a namespaced install too
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
];
// patch: the gateway renews its heartbeat Lease by server-side apply (src/gateway/heartbeat.ts).
const GATEWAY_ROLE_RULES = [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create", "patch", "delete"] }];

describe("helm lint", () => {
  // helm lint has no --api-versions, so the ServiceMonitor (which needs monitoring.coreos.com/v1) stays off here.
  const lintValues = { ...NON_DEFAULT, metrics: { serviceMonitor: { enabled: false } } };
  const { metrics: _metrics, ...everythingButMonitoring } = EVERY_OPTION;
  for (const [name, values] of [
    ["default values", {}],
    ["non-default values", lintValues],
    ["every new option (monitoring objects aside)", { ...everythingButMonitoring, metrics: { dashboard: EVERY_OPTION.metrics.dashboard } }],
    ["the OpenShift security contexts (no uid, gid or fsGroup)", OPENSHIFT],
  ] as const) {
    it(`passes with ${name}`, async () => {
      const result = await withValues(values, (file) => helm(["lint", CHART, "--strict", "--kube-version", KUBE_VERSION, "-f", file]));
      assert.equal(result.code, 0, `helm lint failed:\n${result.stdout}${result.stderr}`);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe("helm template with default values", () => {
  it("renders both components, their RBAC, the CRD and the admission policy", async (t) => {
    const started = performance.now();
    const { objects } = await render();
    t.diagnostic(`helm template (default values) took ${(performance.now() - started).toFixed(0)} ms, ${objects.length} objects`);
    assert.deepEqual(kinds(objects), [
      "ClusterRole/tk-tunnelkeeper-controller",
      "ClusterRole/tk-tunnelkeeper-edit",
      "ClusterRole/tk-tunnelkeeper-gateway",
      "ClusterRole/tk-tunnelkeeper-view",
      "ClusterRoleBinding/tk-tunnelkeeper-controller",
      "ClusterRoleBinding/tk-tunnelkeeper-gateway",
      "CustomResourceDefinition/portforwards.tunnelkeeper.io",
      "Deployment/tk-tunnelkeeper-controller",
      "Deployment/tk-tunnelkeeper-gateway",
      "NetworkPolicy/tk-tunnelkeeper-controller",
      "NetworkPolicy/tk-tunnelkeeper-gateway",
      "PodDisruptionBudget/tk-tunnelkeeper-controller",
      "PodDisruptionBudget/tk-tunnelkeeper-gateway",
      "Role/tk-tunnelkeeper-controller",
      "Role/tk-tunnelkeeper-gateway",
      "RoleBinding/tk-tunnelkeeper-controller",
      "RoleBinding/tk-tunnelkeeper-gateway",
      "Service/tk-tunnelkeeper-controller-metrics",
      "Service/tk-tunnelkeeper-gateway-metrics",
      "ServiceAccount/tk-tunnelkeeper-controller",
      "ServiceAccount/tk-tunnelkeeper-gateway",
      "ValidatingAdmissionPolicy/tk-tunnelkeeper-portforward-authz",
      "ValidatingAdmissionPolicyBinding/tk-tunnelkeeper-portforward-authz",
    ]);
  });

  it("puts the standard labels on every object it owns", async () => {
    const { objects } = await render();
    for (const obj of objects.filter((o) => o.kind !== "CustomResourceDefinition")) {
      const labels = obj.metadata.labels ?? {};
      const where = `${obj.kind}/${obj.metadata.name}`;
      assert.equal(labels["app.kubernetes.io/name"], "tunnelkeeper", where);
      assert.equal(labels["app.kubernetes.io/instance"], "tk", where);
      assert.equal(labels["app.kubernetes.io/version"], "0.1.0", where);
      assert.equal(labels["app.kubernetes.io/managed-by"], "Helm", where);
      assert.equal(labels["helm.sh/chart"], "tunnelkeeper-0.1.0", where);
      assert.ok(labels["app.kubernetes.io/component"], `${where} has no component label`);
    }
  });

  it("runs both Deployments under the restricted Pod Security Standard", async () => {
    const { objects } = await render();
    for (const component of ["controller", "gateway"]) {
      const pod = find(objects, "Deployment", `tk-tunnelkeeper-${component}`).spec.template.spec;
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: "RuntimeDefault" },
      });
      assert.equal(pod.containers.length, 1);
      const container = pod.containers[0];
      assert.deepEqual(container.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      assert.equal(pod.automountServiceAccountToken, true);
      assert.equal(pod.serviceAccountName, `tk-tunnelkeeper-${component}`);
      assert.ok(
        pod.volumes.some((v: Obj) => v.name === "tmp" && v.emptyDir),
        "a writable /tmp on a read-only root filesystem",
      );
    }
  });

  it("configures the controller by the CLI contract: leader election, gateway namespace and port range, probes", async () => {
    const { objects } = await render();
    const deployment = find(objects, "Deployment", "tk-tunnelkeeper-controller");
    assert.equal(deployment.spec.replicas, 2);
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.image, "ghcr.io/tunnelkeeper/tunnelkeeper:0.1.0");
    assert.deepEqual(container.args, [
      "controller",
      "--log-level=info",
      "--metrics-bind-address=0.0.0.0:8080",
      "--leader-elect",
      "--leader-election-namespace=tunnelkeeper-system",
      "--gateway-namespace=tunnelkeeper-system",
      "--gateway-port-range=20000-29999",
      "--gateways-per-portforward=2",
      "--gateway-pod-selector=app.kubernetes.io/component=gateway,app.kubernetes.io/instance=tk,app.kubernetes.io/name=tunnelkeeper",
    ]);
    assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
    assert.deepEqual(container.ports, [{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
  });

  it("configures the gateway by the CLI contract: downward API env, drain timeout and a grace period longer than it", async () => {
    const { objects } = await render();
    const deployment = find(objects, "Deployment", "tk-tunnelkeeper-gateway");
    assert.equal(deployment.spec.replicas, 2);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.deepEqual(container.args, [
      "gateway",
      "--log-level=info",
      "--metrics-bind-address=0.0.0.0:8081",
      "--listen-host=0.0.0.0",
      "--drain-timeout=30s",
      "--shutdown-delay=5s",
      "--idle-tunnel-timeout=60s",
      "--counter-writes-per-second=5",
    ]);
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.deepEqual(env, {
      POD_NAME: "metadata.name",
      POD_NAMESPACE: "metadata.namespace",
      POD_IP: "status.podIP",
      POD_UID: "metadata.uid",
    });
    assert.ok(pod.terminationGracePeriodSeconds > 30, "SIGKILL must not cut the 30 s drain short");
    assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
  });

  it("grants each component exactly the RBAC rules of the contract", async () => {
    const { objects } = await render();
    const strip = (rules: Obj[]) => rules.map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs }));
    assert.deepEqual(strip(find(objects, "ClusterRole", "tk-tunnelkeeper-controller").rules), CONTROLLER_CLUSTER_RULES);
    assert.deepEqual(strip(find(objects, "Role", "tk-tunnelkeeper-controller").rules), CONTROLLER_ROLE_RULES);
    assert.deepEqual(strip(find(objects, "ClusterRole", "tk-tunnelkeeper-gateway").rules), GATEWAY_CLUSTER_RULES);
    assert.deepEqual(strip(find(objects, "Role", "tk-tunnelkeeper-gateway").rules), GATEWAY_ROLE_RULES);
    assert.equal(find(objects, "Role", "tk-tunnelkeeper-controller").metadata.namespace, "tunnelkeeper-system");
    for (const component of ["controller", "gateway"]) {
      for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
        const binding = find(objects, kind, `tk-tunnelkeeper-${component}`);
        assert.deepEqual(binding.subjects, [
          { kind: "ServiceAccount", name: `tk-tunnelkeeper-${component}`, namespace: "tunnelkeeper-system" },
        ]);
        assert.equal(binding.roleRef.name, `tk-tunnelkeeper-${component}`);
      }
    }
    // Every rule carries a comment saying what uses it.
    for (const file of ["controller/rbac.yaml", "gateway/rbac.yaml"]) {
      const lines = readFileSync(join(CHART, "templates", file), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (/^\s*- apiGroups:/.test(line)) assert.match(lines[i - 1] ?? "", /^\s*#/, `${file}:${i + 1} has no comment`);
      });
    }
  });

  it("makes a namespaced install (watchNamespaces) all Roles, but the gateway's read access to namespaces", async () => {
    const watched = ["shop", "team-a"];
    const { objects } = await render({ watchNamespaces: watched });
    const strip = (rules: Obj[]) => rules.map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs }));
    const cluster = objects.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding");
    assert.deepEqual(
      cluster.filter((o) => !/-(view|edit)$/.test(o.metadata.name)).map((o) => `${o.kind}/${o.metadata.name}`),
      ["ClusterRole/tk-tunnelkeeper-gateway", "ClusterRoleBinding/tk-tunnelkeeper-gateway"],
      "only the gateway's namespaces rule is cluster-wide (view/edit aggregate users' rights)",
    );
    assert.deepEqual(strip(find(objects, "ClusterRole", "tk-tunnelkeeper-gateway").rules), GATEWAY_CLUSTER_RULES.slice(-1));
    for (const namespace of watched) {
      const roles = objects.filter((o) => o.kind === "Role" && o.metadata.namespace === namespace);
      const rules = (component: string) => strip(roles.find((r) => r.metadata.name === `tk-tunnelkeeper-${component}`)!.rules);
      assert.deepEqual(rules("controller"), CONTROLLER_CLUSTER_RULES, `the controller's rules as a Role in ${namespace}`);
      assert.deepEqual(rules("gateway"), GATEWAY_CLUSTER_RULES.slice(0, -1), `the gateway's namespaced rules as a Role in ${namespace}`);
      for (const component of ["controller", "gateway"]) {
        const binding = objects.find(
          (o) => o.kind === "RoleBinding" && o.metadata.namespace === namespace && o.metadata.name === `tk-tunnelkeeper-${component}`,
        )!;
        assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `tk-tunnelkeeper-${component}` });
      }
    }
    const policy = find(objects, "ValidatingAdmissionPolicy", "tk-tunnelkeeper-portforward-authz");
    const expressions = (vap: Obj) => vap.spec.validations.map((v: Obj) => v.expression as string);
    assert.ok(expressions(policy).includes('variables.pfNamespace in ["shop","team-a"]'), "unwatched namespaces are refused");
    const off = await render({ watchNamespaces: watched, admissionPolicy: { enabled: true, rejectUnwatchedNamespaces: false } });
    const offPolicy = find(off.objects, "ValidatingAdmissionPolicy", "tk-tunnelkeeper-portforward-authz");
    assert.equal(offPolicy.spec.validations.length, policy.spec.validations.length - 1);
    assert.ok(!expressions(offPolicy).some((e: string) => e.includes("variables.pfNamespace in")));
  });

  it("aggregates PortForward rights into view, edit and admin", async () => {
    const { objects } = await render();
    const view = find(objects, "ClusterRole", "tk-tunnelkeeper-view");
    const edit = find(objects, "ClusterRole", "tk-tunnelkeeper-edit");
    for (const label of ["view", "edit", "admin"])
      assert.equal(view.metadata.labels[`rbac.authorization.k8s.io/aggregate-to-${label}`], "true");
    for (const label of ["edit", "admin"]) assert.equal(edit.metadata.labels[`rbac.authorization.k8s.io/aggregate-to-${label}`], "true");
    assert.equal(edit.metadata.labels["rbac.authorization.k8s.io/aggregate-to-view"], undefined);
    assert.deepEqual(view.rules[0].verbs, ["get", "list", "watch"]);
  });

  it("renders the generated CRD unchanged apart from the keep annotation", async () => {
    const { objects } = await render();
    const crd = find(objects, "CustomResourceDefinition", "portforwards.tunnelkeeper.io");
    assert.equal(crd.metadata.annotations["helm.sh/resource-policy"], "keep");
    const generated = parse(readFileSync(join(ROOT, "crds", "tunnelkeeper.io_portforwards.yaml"), "utf8")) as Obj;
    const { annotations: _annotations, ...metadata } = crd.metadata;
    assert.deepEqual({ ...crd, metadata }, generated);
  });

  it("renders an admission policy that checks only the main resource and denies", async () => {
    const { objects } = await render();
    const policy = find(objects, "ValidatingAdmissionPolicy", "tk-tunnelkeeper-portforward-authz");
    assert.equal(policy.apiVersion, "admissionregistration.k8s.io/v1");
    assert.equal(policy.spec.failurePolicy, "Fail");
    assert.deepEqual(policy.spec.matchConstraints.resourceRules, [
      { apiGroups: ["tunnelkeeper.io"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["portforwards"] },
    ]);
    assert.match(JSON.stringify(policy.spec.variables), /resource\('pods'\)\.subresource\('portforward'\)/);
    const binding = find(objects, "ValidatingAdmissionPolicyBinding", "tk-tunnelkeeper-portforward-authz");
    assert.deepEqual(binding.spec.validationActions, ["Deny"]);
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.equal(binding.spec.matchResources, undefined, "bound to every namespace by default");
  });
});

describe("the rendered command lines", () => {
  // The chart and src/config.ts must agree: the CLI parses flags strictly, so an unknown flag
  // in the chart would crash-loop the pods.
  const env = { POD_NAME: "pod-0", POD_NAMESPACE: "tunnelkeeper-system", POD_IP: "10.1.2.3", POD_UID: "uid-0" };
  const argsOf = (objects: Obj[], component: string): string[] =>
    find(objects, "Deployment", `tk-tunnelkeeper-${component}`).spec.template.spec.containers[0].args;

  it("parse with the real CLI parser, default values", async () => {
    const { objects } = await render();
    const controller = parseConfig(argsOf(objects, "controller"), env);
    assert.equal(controller.command, "controller");
    if (controller.command !== "controller") return;
    assert.deepEqual(controller.controller, {
      instance: "pod-0",
      leaderElect: true,
      leaderElectionNamespace: "tunnelkeeper-system",
      gatewayNamespace: "tunnelkeeper-system",
      gatewayPortRange: { min: 20000, max: 29999 },
      gatewaysPerPortForward: 2,
      gatewayPodLabels: {
        "app.kubernetes.io/component": "gateway",
        "app.kubernetes.io/instance": "tk",
        "app.kubernetes.io/name": "tunnelkeeper",
      },
    });
    assert.deepEqual(controller.common.metricsBindAddress, { host: "0.0.0.0", port: 8080 });
    assert.deepEqual(controller.common.namespaces, []);
    assert.equal(controller.common.kubeconfigPath, undefined, "in-cluster config");
    const gateway = parseConfig(argsOf(objects, "gateway"), env);
    assert.equal(gateway.command, "gateway");
    if (gateway.command !== "gateway") return;
    assert.deepEqual(gateway.gateway, {
      podName: "pod-0",
      podNamespace: "tunnelkeeper-system",
      podIP: "10.1.2.3",
      podUid: "uid-0",
      listenHost: "0.0.0.0",
      drainTimeoutMs: 30_000,
      shutdownDelayMs: 5_000,
      peerCache: true,
      idleTunnelCloseMs: 60_000,
      counterWritesPerSecond: 5,
    });
    assert.deepEqual(gateway.common.metricsBindAddress, { host: "0.0.0.0", port: 8081 });
  });

  it("parse with the real CLI parser, non-default values", async () => {
    const { objects } = await render(NON_DEFAULT, ["--api-versions", "monitoring.coreos.com/v1"]);
    const controller = parseConfig(argsOf(objects, "controller"), env);
    if (controller.command !== "controller") assert.fail("not the controller command");
    assert.equal(controller.controller.leaderElect, false);
    assert.deepEqual(controller.controller.gatewayPortRange, { min: 30000, max: 30999 });
    assert.equal(controller.controller.gatewaysPerPortForward, 3);
    assert.deepEqual(controller.common.namespaces, ["team-a", "team-b"]);
    assert.equal(controller.common.logLevel, "debug");
    const gateway = parseConfig(argsOf(objects, "gateway"), env);
    if (gateway.command !== "gateway") assert.fail("not the gateway command");
    assert.equal(gateway.gateway.drainTimeoutMs, 60_000);
    assert.equal(gateway.gateway.idleTunnelCloseMs, 300_000);
    assert.equal(gateway.gateway.counterWritesPerSecond, 0.5);
    assert.deepEqual(gateway.common.namespaces, ["team-a", "team-b"]);
  });
});

describe("helm template with non-default values", () => {
  it("drops the CRD and the admission policy, adds NetworkPolicies and ServiceMonitors, passes values through", async () => {
    const { objects } = await render(NON_DEFAULT, ["--api-versions", "monitoring.coreos.com/v1"]);
    const names = kinds(objects);
    assert.ok(!names.some((n) => n.startsWith("CustomResourceDefinition/")), "crds.enabled=false still rendered the CRD");
    assert.ok(!names.some((n) => n.startsWith("ValidatingAdmissionPolicy")), "admissionPolicy.enabled=false still rendered the policy");

    const gatewayPolicy = find(objects, "NetworkPolicy", "tk-tunnelkeeper-gateway");
    assert.deepEqual(
      gatewayPolicy.spec.podSelector.matchLabels,
      find(objects, "Deployment", "tk-tunnelkeeper-gateway").spec.selector.matchLabels,
    );
    assert.deepEqual(gatewayPolicy.spec.policyTypes, ["Ingress"]);
    assert.deepEqual(gatewayPolicy.spec.ingress[0], {
      ports: [{ protocol: "TCP", port: 30000, endPort: 30999 }],
      from: NON_DEFAULT.networkPolicy.gatewayFrom,
    });
    assert.deepEqual(gatewayPolicy.spec.ingress[1], {
      ports: [{ protocol: "TCP", port: 8081 }],
      from: NON_DEFAULT.networkPolicy.metricsFrom,
    });
    find(objects, "NetworkPolicy", "tk-tunnelkeeper-controller");

    for (const component of ["controller", "gateway"]) {
      const monitor = find(objects, "ServiceMonitor", `tk-tunnelkeeper-${component}`);
      assert.equal(monitor.metadata.labels.release, "prometheus");
      const service = find(objects, "Service", `tk-tunnelkeeper-${component}-metrics`);
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
        assert.equal(service.metadata.labels[k], v, `ServiceMonitor ${component} does not select its Service`);
      assert.equal(monitor.spec.selector.matchLabels["app.kubernetes.io/component"], component);
      assert.equal(monitor.spec.endpoints[0].port, "metrics");
    }

    const controller = find(objects, "Deployment", "tk-tunnelkeeper-controller");
    const cpod = controller.spec.template.spec;
    assert.equal(controller.spec.replicas, 3);
    assert.equal(cpod.containers[0].image, "registry.example/tunnelkeeper:dev");
    assert.deepEqual(cpod.imagePullSecrets, [{ name: "regcred" }]);
    assert.equal(cpod.priorityClassName, "system-cluster-critical");
    assert.deepEqual(cpod.tolerations, [{ key: "dedicated", operator: "Exists" }]);
    assert.ok(!cpod.containers[0].args.includes("--leader-elect"));
    assert.ok(cpod.containers[0].args.includes("--gateway-port-range=30000-30999"));
    assert.ok(cpod.containers[0].args.includes("--log-level=debug"));
    const gateway = find(objects, "Deployment", "tk-tunnelkeeper-gateway");
    assert.equal(gateway.spec.replicas, 4);
    assert.deepEqual(gateway.spec.template.spec.nodeSelector, { "kubernetes.io/os": "linux" });
    for (const deployment of [controller, gateway]) {
      const args = deployment.spec.template.spec.containers[0].args as string[];
      assert.deepEqual(
        args.filter((a) => a.startsWith("--namespace=")),
        ["--namespace=team-a", "--namespace=team-b"],
      );
    }
    assert.ok(gateway.spec.template.spec.containers[0].args.includes("--drain-timeout=1m"));
  });

  it("omits the keep annotation when crds.keep is false", async () => {
    const { objects } = await render({ crds: { enabled: true, keep: false } });
    const crd = find(objects, "CustomResourceDefinition", "portforwards.tunnelkeeper.io");
    assert.equal(crd.metadata.annotations, undefined);
  });

  it("refuses a ServiceMonitor when the cluster has no monitoring.coreos.com/v1", async () => {
    const result = await template({ metrics: { serviceMonitor: { enabled: true } } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /metrics\.serviceMonitor\.enabled is true but the cluster has no monitoring\.coreos\.com\/v1/);
  });
});

describe("helm template with every option of the chart conventions and monitoring", () => {
  it("applies per-component env, volumes, security contexts, probes, revision history and strategy", async () => {
    const { objects } = await render(EVERY_OPTION, MONITORING_API);
    for (const component of ["controller", "gateway"]) {
      const deployment = find(objects, "Deployment", `tk-tunnelkeeper-${component}`);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      assert.equal(deployment.spec.revisionHistoryLimit, component === "controller" ? 3 : 7);
      assert.deepEqual(deployment.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      assert.equal(container.image, "mirror.example:5000/tunnelkeeper/tunnelkeeper:0.1.0");
      assert.deepEqual(
        container.env.find((e: Obj) => e.name === "NODE_EXTRA_CA_CERTS"),
        { name: "NODE_EXTRA_CA_CERTS", value: "/etc/corporate-ca/ca.crt" },
      );
      assert.equal(container.env.length, 5, "the downward API env stays");
      assert.deepEqual(
        pod.volumes.map((v: Obj) => v.name),
        ["tmp", "corporate-ca"],
      );
      assert.deepEqual(container.volumeMounts, [
        { name: "tmp", mountPath: "/tmp" },
        { name: "corporate-ca", mountPath: "/etc/corporate-ca", readOnly: true },
      ]);
      // Values merge into the restricted defaults.
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        fsGroupChangePolicy: "OnRootMismatch",
        supplementalGroups: [4000],
        seccompProfile: { type: "RuntimeDefault" },
      });
      assert.equal(container.securityContext.runAsUser, 70000);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
      assert.deepEqual(container.livenessProbe, {
        httpGet: { path: "/healthz", port: "metrics" },
        initialDelaySeconds: 20,
        periodSeconds: 10,
        timeoutSeconds: 3,
        failureThreshold: 6,
      });
      assert.equal(container.readinessProbe.periodSeconds, 2);
      assert.deepEqual(container.startupProbe, { httpGet: { path: "/healthz", port: "metrics" }, failureThreshold: 30, periodSeconds: 2 });
    }
  });

  it("leaves uid, gid and fsGroup unset for OpenShift while staying non-root and restricted", async () => {
    const { objects } = await render(OPENSHIFT);
    for (const component of ["controller", "gateway"]) {
      const pod = find(objects, "Deployment", `tk-tunnelkeeper-${component}`).spec.template.spec;
      assert.deepEqual(pod.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      assert.deepEqual(pod.containers[0].securityContext, {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      assert.equal(pod.containers[0].startupProbe, undefined, "no startup probe by default");
    }
  });

  it("puts commonLabels on every object, monitoring objects and extraObjects included, and renders extraObjects with tpl", async () => {
    const { objects } = await render(EVERY_OPTION, MONITORING_API);
    for (const obj of objects.filter(
      (o) => o.kind !== "CustomResourceDefinition" && !o.metadata.name.includes("corporate-ca") && !o.metadata.name.endsWith("-extra"),
    )) {
      assert.equal(obj.metadata.labels?.["example.com/team"], "platform", `${obj.kind}/${obj.metadata.name}`);
    }
    assert.deepEqual(find(objects, "ConfigMap", "corporate-ca").metadata, { name: "corporate-ca", namespace: "tunnelkeeper-system" });
    assert.deepEqual(find(objects, "ConfigMap", "tk-extra").data, { release: "tk" });
  });

  it("renders ServiceMonitors with labels, annotations, interval, timeout, honorLabels and both relabelings", async () => {
    const { objects } = await render(EVERY_OPTION, MONITORING_API);
    for (const component of ["controller", "gateway"]) {
      const monitor = find(objects, "ServiceMonitor", `tk-tunnelkeeper-${component}`);
      assert.equal(monitor.metadata.labels.release, "prometheus");
      assert.deepEqual(monitor.metadata.annotations, { "example.com/owner": "platform" });
      assert.deepEqual(monitor.spec.endpoints, [
        {
          port: "metrics",
          path: "/metrics",
          scheme: "http",
          interval: "15s",
          scrapeTimeout: "5s",
          honorLabels: false,
          relabelings: RELABELINGS,
          metricRelabelings: METRIC_RELABELINGS,
        },
      ]);
    }
  });

  it("renders PodMonitors that select each component's pods, and refuses both monitor kinds at once", async () => {
    const { objects } = await render({ metrics: { podMonitor: MONITOR_OPTIONS } }, MONITORING_API);
    assert.ok(!objects.some((o) => o.kind === "ServiceMonitor"));
    for (const component of ["controller", "gateway"]) {
      const monitor = find(objects, "PodMonitor", `tk-tunnelkeeper-${component}`);
      assert.deepEqual(
        monitor.spec.selector.matchLabels,
        find(objects, "Deployment", `tk-tunnelkeeper-${component}`).spec.selector.matchLabels,
      );
      assert.equal(monitor.spec.podMetricsEndpoints[0].port, "metrics");
      assert.deepEqual(monitor.spec.podMetricsEndpoints[0].metricRelabelings, METRIC_RELABELINGS);
      assert.equal(monitor.metadata.labels.release, "prometheus");
    }
    const both = await template({ metrics: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true } } }, MONITORING_API);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /serviceMonitor\.enabled and metrics\.podMonitor\.enabled are both true/);
  });

  it("renders the PrometheusRule with its labels, extra alert labels, thresholds, and without disabled alerts", async () => {
    const { objects } = await render(EVERY_OPTION, MONITORING_API);
    const rule = find(objects, "PrometheusRule", "tk-tunnelkeeper");
    assert.equal(rule.metadata.labels.release, "prometheus");
    const rules = rule.spec.groups[0].rules as Obj[];
    assert.deepEqual(
      rules.map((r) => r.alert),
      [
        "TunnelkeeperPortForwardNotReady",
        "TunnelkeeperPortForwardDegraded",
        "TunnelkeeperGatewayListenFailed",
        "TunnelkeeperGatewayAbsent",
        "TunnelkeeperReconnectStorm",
        "TunnelkeeperControllerNotLeading",
      ],
    );
    for (const r of rules) assert.equal(r.labels.team, "platform", r.alert);
    assert.equal(rules[0]!.for, "5m");
    assert.match(rules.find((r) => r.alert === "TunnelkeeperReconnectStorm")!.expr, /> 1$/);
    assert.match(rules[0]!.expr, /job="tk-tunnelkeeper-controller-metrics"/);
  });

  it("refuses PodMonitors and PrometheusRules on a cluster without monitoring.coreos.com/v1", async () => {
    for (const key of ["podMonitor", "prometheusRule"]) {
      const result = await template({ metrics: { [key]: { enabled: true } } });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, new RegExp(`metrics\\.${key}\\.enabled is true but the cluster has no monitoring\\.coreos\\.com/v1`));
    }
  });

  it("renders the dashboard ConfigMap with the sidecar label, in another namespace when asked, holding valid dashboard JSON", async () => {
    const { objects } = await render({
      metrics: { dashboard: { enabled: true, namespace: "grafana", annotations: { grafana_folder: "Operators" } } },
    });
    const configMap = find(objects, "ConfigMap", "tk-tunnelkeeper-dashboard");
    assert.equal(configMap.metadata.namespace, "grafana");
    assert.equal(configMap.metadata.labels.grafana_dashboard, "1");
    assert.deepEqual(configMap.metadata.annotations, { grafana_folder: "Operators" });
    const dashboard = JSON.parse(configMap.data["tunnelkeeper.json"]);
    assert.equal(dashboard.uid, "tunnelkeeper");
    assert.deepEqual(dashboard, JSON.parse(readFileSync(join(CHART, "files", "dashboards", "tunnelkeeper.json"), "utf8")));
  });

  it("keeps a registry-less repository and a digest as they are, and replaces only the registry part", async () => {
    const cases: [Obj, string][] = [
      [{ image: { repository: "tunnelkeeper", tag: "dev", pullPolicy: "Never" } }, "tunnelkeeper:dev"],
      [
        { global: { imageRegistry: "mirror.example" }, image: { repository: "tunnelkeeper/tunnelkeeper" } },
        "mirror.example/tunnelkeeper/tunnelkeeper:0.1.0",
      ],
      [{ global: { imageRegistry: "mirror.example/" }, image: { repository: "localhost/tk" } }, "mirror.example/tk:0.1.0"],
      [
        { global: { imageRegistry: "mirror.example" }, image: { digest: `sha256:${"a".repeat(64)}` } },
        `mirror.example/tunnelkeeper/tunnelkeeper@sha256:${"a".repeat(64)}`,
      ],
    ];
    for (const [values, image] of cases) {
      const { objects } = await render(values);
      assert.equal(
        find(objects, "Deployment", "tk-tunnelkeeper-gateway").spec.template.spec.containers[0].image,
        image,
        JSON.stringify(values),
      );
    }
  });

  it("has artifacthub annotations whose embedded YAML parses, with a CRD entry per served kind", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Obj;
    const annotations = chart.annotations as Record<string, string>;
    assert.equal(annotations["artifacthub.io/operator"], "true");
    assert.equal(annotations["artifacthub.io/license"], "Apache-2.0");
    const crds = parse(annotations["artifacthub.io/crds"]!) as Obj[];
    assert.deepEqual(
      crds.map((c) => `${c.kind}/${c.version}/${c.name}`),
      ["PortForward/v1alpha1/portforwards.tunnelkeeper.io"],
    );
    const examples = parse(annotations["artifacthub.io/crdsExamples"]!) as Obj[];
    assert.equal(examples[0]!.kind, "PortForward");
    const images = parse(annotations["artifacthub.io/images"]!) as Obj[];
    assert.equal(images[0]!.image, `ghcr.io/tunnelkeeper/tunnelkeeper:${chart.appVersion}`);
    assert.ok((parse(annotations["artifacthub.io/links"]!) as Obj[]).length >= 1);
  });
});

describe("values.schema.json", () => {
  const cases: [string, Obj, RegExp][] = [
    ["replicas given as a word", { controller: { replicas: "two" } }, /at '\/controller\/replicas': got string, want integer/],
    ["an unknown top-level key", { replicaCount: 2 }, /additional properties 'replicaCount' not allowed/],
    ["an unknown key under gateway", { gateway: { replica: 2 } }, /at '\/gateway': additional properties 'replica' not allowed/],
    ["an unknown log level", { logLevel: "verbose" }, /at '\/logLevel'/],
    ["a privileged gateway port range", { gateway: { portRange: { start: 80, end: 90 } } }, /at '\/gateway\/portRange\/start'/],
    ["a drain timeout without a unit", { gateway: { drainTimeout: "30" } }, /at '\/gateway\/drainTimeout'/],
    ["crds.enabled as a string", { crds: { enabled: "sure" } }, /at '\/crds\/enabled': got string, want boolean/],
    ["a registry with a scheme", { global: { imageRegistry: "https://mirror" } }, /at '\/global\/imageRegistry'/],
    ["an extraObjects entry that is a number", { extraObjects: [1] }, /at '\/extraObjects\/0'/],
    ["an env var without a name", { gateway: { extraEnv: [{ value: "x" }] } }, /at '\/gateway\/extraEnv\/0'/],
    ["a volume without a source", { controller: { extraVolumes: [{ name: "x" }] } }, /at '\/controller\/extraVolumes\/0'/],
    ["a volume mount without a path", { gateway: { extraVolumeMounts: [{ name: "x" }] } }, /at '\/gateway\/extraVolumeMounts\/0'/],
    [
      "a typo in the pod security context",
      { gateway: { podSecurityContext: { runAsUsr: 1000 } } },
      /at '\/gateway\/podSecurityContext': additional properties 'runAsUsr' not allowed/,
    ],
    ["a negative uid", { controller: { securityContext: { runAsUser: -1 } } }, /at '\/controller\/securityContext\/runAsUser'/],
    [
      "a typo in a probe",
      { controller: { livenessProbe: { periodSecond: 5 } } },
      /at '\/controller\/livenessProbe': additional properties 'periodSecond' not allowed/,
    ],
    ["a negative revisionHistoryLimit", { gateway: { revisionHistoryLimit: -1 } }, /at '\/gateway\/revisionHistoryLimit'/],
    ["an unknown strategy type", { gateway: { strategy: { type: "BlueGreen" } } }, /at '\/gateway\/strategy\/type'/],
    [
      "a scrape interval without a unit",
      { metrics: { podMonitor: { enabled: true, interval: "30" } } },
      /at '\/metrics\/podMonitor\/interval'/,
    ],
    [
      "a relabeling with an unknown action",
      { metrics: { serviceMonitor: { enabled: false, relabelings: [{ action: "rename" }] } } },
      /at '\/metrics\/serviceMonitor\/relabelings\/0\/action'/,
    ],
    [
      "a relabeling with a typo",
      { metrics: { serviceMonitor: { enabled: false, metricRelabelings: [{ source_labels: ["a"] }] } } },
      /additional properties 'source_labels' not allowed/,
    ],
    [
      "an unknown alert in disabled",
      { metrics: { prometheusRule: { enabled: false, disabled: { SomethingElse: true } } } },
      /additional properties 'SomethingElse' not allowed/,
    ],
    [
      "a zero reconnect storm rate",
      { metrics: { prometheusRule: { enabled: false, reconnectStormRate: 0 } } },
      /at '\/metrics\/prometheusRule\/reconnectStormRate'/,
    ],
    [
      "an unknown key under dashboard",
      { metrics: { dashboard: { enabled: true, folder: "x" } } },
      /additional properties 'folder' not allowed/,
    ],
  ];
  for (const [what, values, message] of cases) {
    it(`rejects ${what} with a message naming the value`, async () => {
      const result = await template(values);
      assert.notEqual(result.code, 0, `helm template accepted ${JSON.stringify(values)}`);
      assert.match(result.stderr, /values don't meet the specifications of the schema/);
      assert.match(result.stderr, message);
    });
  }
});

/** The Prometheus Operator's CRDs (test/cluster/tools/prometheus/operator-crds), so its objects are validated by their real schemas. Shared; never deleted. */
async function installPrometheusOperatorCrds(): Promise<void> {
  const dir = join(ROOT, "test", "cluster", "tools", "prometheus", "operator-crds");
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".yaml"))) {
    await kubectlOk(["apply", "--server-side", "--field-manager=chart-test", "-f", join(dir, file)]);
  }
  for (const crd of ["servicemonitors", "podmonitors", "prometheusrules"]) {
    await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", `crd/${crd}.monitoring.coreos.com`]);
  }
}

async function serverDryRun(text: string, objects: readonly Obj[], namespace: string): Promise<void> {
  const result = await kubectl(
    ["apply", "--server-side", "--dry-run=server", "--field-manager=chart-test", "-n", namespace, "-f", "-"],
    text,
  );
  assert.equal(result.code, 0, `server-side dry run failed:\n${result.stderr}`);
  const applied = result.stdout.trim().split("\n");
  assert.equal(applied.length, objects.length, result.stdout);
  assert.ok(
    applied.every((line) => line.endsWith("serverside-applied (server dry run)")),
    result.stdout,
  );
}

test("every option of the chart, monitoring objects included, passes a server-side dry run on the real API server", async (t) => {
  await installPrometheusOperatorCrds();
  const namespace = await testNamespace(t, "chart");
  const release = `all-${randomBytes(3).toString("hex")}`;
  const scoped = {
    networkPolicy: { enabled: true, gatewayFrom: [{ podSelector: {} }] },
    admissionPolicy: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
  };
  const everything = await render({ ...EVERY_OPTION, ...scoped }, MONITORING_API, release, namespace);
  const kindsApplied = new Set(everything.objects.map((o) => o.kind));
  for (const kind of ["ServiceMonitor", "PrometheusRule", "ConfigMap", "Deployment", "NetworkPolicy"])
    assert.ok(kindsApplied.has(kind), kind);
  await serverDryRun(everything.text, everything.objects, namespace);
  // The PodMonitor variant, and the OpenShift security contexts.
  const pods = await render({ ...OPENSHIFT, ...scoped, metrics: { podMonitor: MONITOR_OPTIONS } }, MONITORING_API, release, namespace);
  assert.equal(pods.objects.filter((o) => o.kind === "PodMonitor").length, 2);
  await serverDryRun(pods.text, pods.objects, namespace);
});

test("everything the chart renders passes a server-side dry run on the real API server", async (t) => {
  const namespace = await testNamespace(t, "chart");
  const release = `dry-${randomBytes(3).toString("hex")}`;
  const values = {
    networkPolicy: { enabled: true, gatewayFrom: [{ podSelector: {} }] },
    admissionPolicy: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
  };
  const { text, objects } = await render(values, [], release, namespace);
  const result = await kubectl(
    ["apply", "--server-side", "--dry-run=server", "--field-manager=chart-test", "-n", namespace, "-f", "-"],
    text,
  );
  assert.equal(result.code, 0, `server-side dry run failed:\n${result.stderr}`);
  const applied = result.stdout.trim().split("\n");
  assert.equal(applied.length, objects.length, result.stdout);
  assert.ok(
    applied.every((line) => line.endsWith("serverside-applied (server dry run)")),
    result.stdout,
  );
});

test('helm install creates every object (pods admitted under Pod Security "restricted"), least-privilege RBAC holds, helm uninstall removes them', async (t) => {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "chart");
  await kubectlOk([
    "label",
    "namespace",
    namespace,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  ]);
  const release = `tk-${randomBytes(3).toString("hex")}`;
  const fullname = `${release}-tunnelkeeper`;
  // The CRD is shared by every test running against this API server and may already exist
  // without Helm's ownership metadata, so this release does not manage it (the dry run above
  // covers the CRD template).
  const values = {
    crds: { enabled: false },
    image: { repository: "example.invalid/tunnelkeeper", tag: "test" },
    networkPolicy: { enabled: true },
    admissionPolicy: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
  };
  const install = await withValues(values, (file) =>
    helm(["install", release, CHART, "--kubeconfig", cluster.state.kubeconfig, "--namespace", namespace, "-f", file, "--timeout", "60s"]),
  );
  let uninstalled = false;
  t.after(async () => {
    if (!uninstalled) await helm(["uninstall", release, "--kubeconfig", cluster.state.kubeconfig, "--namespace", namespace]);
  });
  assert.equal(install.code, 0, `helm install failed:\n${install.stderr}`);
  assert.match(install.stdout, /STATUS: deployed/);
  assert.match(install.stdout, /only users who may create pods\/portforward/, "NOTES.txt is shown");

  const namespaced = ["deployment", "serviceaccount", "role", "rolebinding", "poddisruptionbudget", "service", "networkpolicy"];
  for (const kind of namespaced) {
    const names = (await kubectlOk(["get", kind, "-n", namespace, "-l", `app.kubernetes.io/instance=${release}`, "-o", "name"]))
      .trim()
      .split("\n")
      .sort();
    assert.ok(names.length >= 2, `${kind}: ${names.join(", ")}`);
  }
  const clusterScoped = [
    `clusterrole/${fullname}-controller`,
    `clusterrole/${fullname}-gateway`,
    `clusterrole/${fullname}-view`,
    `clusterrole/${fullname}-edit`,
    `clusterrolebinding/${fullname}-controller`,
    `clusterrolebinding/${fullname}-gateway`,
    `validatingadmissionpolicy/${fullname}-portforward-authz`,
    `validatingadmissionpolicybinding/${fullname}-portforward-authz`,
  ];
  await kubectlOk(["get", ...clusterScoped, "-o", "name"]);

  // The ReplicaSet controller creates the pods only if Pod Security "restricted" admits them
  // (there is no scheduler, so they stay Pending).
  const deadline = Date.now() + 60_000;
  let pods: string[] = [];
  while (Date.now() < deadline) {
    pods = (await kubectlOk(["get", "pods", "-n", namespace, "-l", `app.kubernetes.io/instance=${release}`, "-o", "name"]))
      .trim()
      .split("\n")
      .filter(Boolean);
    if (pods.length === 4) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (pods.length !== 4) {
    const events = await kubectl(["get", "events", "-n", namespace, "-o", "custom-columns=REASON:.reason,MESSAGE:.message"]);
    assert.fail(`expected 2 controller + 2 gateway pods, got ${pods.length}:\n${events.stdout}`);
  }

  // Least privilege as the API server's own authorizer sees it. kubectl auth can-i resolves
  // resource names through discovery, so the (shared) CRD must be served.
  await kubectlOk(["apply", "--server-side", "--field-manager=chart-test", "-f", join(ROOT, "crds", "tunnelkeeper.io_portforwards.yaml")]);
  await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", "crd/portforwards.tunnelkeeper.io"]);
  const can = async (serviceAccount: string, args: readonly string[]) => {
    const result = await kubectl(["auth", "can-i", ...args, `--as=system:serviceaccount:${namespace}:${fullname}-${serviceAccount}`]);
    return result.stdout.trim();
  };
  const checks: [string, string[], string][] = [
    ["gateway", ["create", "pods", "--subresource=portforward", "-n", "default"], "yes"],
    ["gateway", ["get", "pods", "--subresource=portforward", "-n", "default"], "yes"],
    ["gateway", ["patch", "portforwards.tunnelkeeper.io", "--subresource=status", "-n", "default"], "yes"],
    ["gateway", ["patch", "portforwards.tunnelkeeper.io", "-n", "default"], "no"],
    ["gateway", ["create", "services", "-n", "default"], "no"],
    ["gateway", ["get", "secrets", "-n", "default"], "no"],
    ["gateway", ["create", "leases.coordination.k8s.io", "-n", namespace], "yes"],
    ["gateway", ["create", "leases.coordination.k8s.io", "-n", "default"], "no"],
    ["controller", ["create", "pods", "--subresource=portforward", "-n", "default"], "no"],
    ["controller", ["patch", "endpointslices.discovery.k8s.io", "-n", "default"], "yes"],
    ["controller", ["delete", "services", "-n", "default"], "yes"],
    ["controller", ["create", "events.events.k8s.io", "-n", "default"], "yes"],
    ["controller", ["watch", "portforwards.tunnelkeeper.io", "-n", "default"], "yes"],
    ["controller", ["update", "portforwards.tunnelkeeper.io", "--subresource=status", "-n", "default"], "yes"],
    ["controller", ["update", "portforwards.tunnelkeeper.io", "-n", "default"], "no"],
    ["controller", ["get", "secrets", "-n", "default"], "no"],
    ["controller", ["update", "leases.coordination.k8s.io", "-n", namespace], "yes"],
    ["controller", ["update", "leases.coordination.k8s.io", "-n", "default"], "no"],
  ];
  const answers = await Promise.all(checks.map(([sa, args]) => can(sa, args)));
  assert.deepEqual(
    checks.map(([sa, args], i) => `${sa} ${args.join(" ")}: ${answers[i]}`),
    checks.map(([sa, args, expected]) => `${sa} ${args.join(" ")}: ${expected}`),
  );

  // What the components really do with these rights: the gateway's heartbeat (server-side
  // apply of its Lease, delete on shutdown) and the controller's Service apply.
  const gatewaySA = `--as=system:serviceaccount:${namespace}:${fullname}-gateway`;
  const lease = stringify({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: "tunnelkeeper-gateway-pod-0",
      namespace,
      labels: { "app.kubernetes.io/component": "gateway", "app.kubernetes.io/managed-by": "tunnelkeeper" },
    },
    spec: { holderIdentity: "pod-0", leaseDurationSeconds: 15 },
  });
  for (let i = 0; i < 2; i++) {
    const applied = await kubectl(["apply", "--server-side", "--field-manager=tunnelkeeper-gateway/pod-0", gatewaySA, "-f", "-"], lease);
    assert.equal(applied.code, 0, `the gateway could not apply its heartbeat Lease: ${applied.stderr}`);
  }
  const deleted = await kubectl(["delete", gatewaySA, "-n", namespace, "lease/tunnelkeeper-gateway-pod-0"]);
  assert.equal(deleted.code, 0, `the gateway could not delete its heartbeat Lease: ${deleted.stderr}`);
  const service = stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "pf-web", namespace },
    spec: { ports: [{ name: "http", port: 80, targetPort: 20000 }] },
  });
  const controllerApply = await kubectl(
    [
      "apply",
      "--server-side",
      "--field-manager=tunnelkeeper-controller",
      `--as=system:serviceaccount:${namespace}:${fullname}-controller`,
      "-f",
      "-",
    ],
    service,
  );
  assert.equal(controllerApply.code, 0, `the controller could not apply a Service: ${controllerApply.stderr}`);

  const uninstall = await helm([
    "uninstall",
    release,
    "--kubeconfig",
    cluster.state.kubeconfig,
    "--namespace",
    namespace,
    "--wait",
    "--timeout",
    "60s",
  ]);
  uninstalled = true;
  assert.equal(uninstall.code, 0, uninstall.stderr);
  const left = await kubectl(["get", ...clusterScoped, "-o", "name", "--ignore-not-found"]);
  assert.equal(left.stdout.trim(), "", "cluster-scoped objects survived helm uninstall");
  const deployments = await kubectlOk(["get", "deployments", "-n", namespace, "-o", "name"]);
  assert.equal(deployments.trim(), "");
});

test("every example passes a server-side dry run against the CRD the chart installs", async (t) => {
  const namespace = await testNamespace(t, "examples");
  await kubectlOk(["apply", "--server-side", "--field-manager=chart-test", "-f", join(ROOT, "crds", "tunnelkeeper.io_portforwards.yaml")]);
  await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", "crd/portforwards.tunnelkeeper.io"]);
  const dir = join(ROOT, "examples");
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".yaml"))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      const obj = doc.toJS() as Obj;
      obj.metadata.namespace = namespace;
      const result = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], stringify(obj));
      assert.equal(result.code, 0, `${file}: ${result.stderr}`);
    }
  }
});
