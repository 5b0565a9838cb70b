// A namespaced install on the real node: `helm install --set watchNamespaces={served}`. Both
// components then hold every grant as a Role in the served namespace (and their Leases in the
// release namespace); `kubectl auth can-i` as their ServiceAccounts proves that nothing
// cluster-wide is left but the gateway's read access to namespaces. A PortForward in the served
// namespace carries verified bytes; one elsewhere is refused at admission, saying why.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { API_VERSION } from "../../src/api/identity.ts";
import { echoDeployment, installArgs, RELEASE, runClient, SYSTEM, testNamespace } from "../support/in-cluster-pods.ts";
import { apply, CHART_DIR, helm, kubectl, kubectlResult } from "../support/real-node.ts";

const GATEWAY_SA = `system:serviceaccount:${SYSTEM}:${RELEASE}-gateway`;
const CONTROLLER_SA = `system:serviceaccount:${SYSTEM}:${RELEASE}-controller`;

/** `kubectl auth can-i` as `user`: true or false (exit 0 or 1). */
async function canI(user: string, args: readonly string[]): Promise<boolean> {
  const result = await kubectlResult(["auth", "can-i", ...args, "--as", user]);
  assert.ok(result.code === 0 || result.code === 1, `kubectl auth can-i ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.trim() === "yes";
}

function portForward(namespace: string, name: string) {
  return {
    apiVersion: API_VERSION,
    kind: "PortForward",
    metadata: { name, namespace },
    spec: { target: { workload: { kind: "Deployment", name: "echo" } }, ports: [{ port: 9000, targetPort: 9000 }] },
  };
}

describe("a namespaced install (watchNamespaces) on a real node", { concurrency: false }, () => {
  const created: string[] = [];
  let installed = false;
  let served = "";
  let unserved = "";

  before(async () => {
    served = await testNamespace("ns-served", created);
    unserved = await testNamespace("ns-other", created);
    await helm([
      "install",
      RELEASE,
      CHART_DIR,
      "--create-namespace",
      "--take-ownership",
      ...installArgs(["--set", `watchNamespaces={${served}}`]),
      "--wait",
      "--timeout",
      "300s",
    ]);
    installed = true;
  });

  after(async () => {
    if (installed) await helm(["uninstall", RELEASE, "--namespace", SYSTEM, "--wait", "--timeout", "120s"]).catch(() => undefined);
    for (const ns of created) await kubectlResult(["delete", "namespace", ns, "--wait=false"]);
  });

  it("grants both components nothing cluster-wide but the gateway's read access to namespaces", async () => {
    for (const user of [GATEWAY_SA, CONTROLLER_SA]) {
      // cluster-wide (every namespace at once) and in a namespace the install does not serve
      for (const scope of [["--all-namespaces"], ["-n", unserved], ["-n", "default"]]) {
        assert.equal(
          await canI(user, ["create", "pods", "--subresource=portforward", ...scope]),
          false,
          `${user} may port-forward ${scope.join(" ")}`,
        );
        assert.equal(await canI(user, ["list", "pods", ...scope]), false, `${user} may list pods ${scope.join(" ")}`);
        assert.equal(await canI(user, ["list", "portforwards.tunnelkeeper.io", ...scope]), false);
      }
    }
    assert.equal(await canI(CONTROLLER_SA, ["create", "services", "-n", unserved]), false);
    assert.equal(await canI(CONTROLLER_SA, ["list", "namespaces"]), false, "the controller reads no namespaces");
    // what the served namespace grants
    assert.equal(await canI(GATEWAY_SA, ["create", "pods", "--subresource=portforward", "-n", served]), true);
    assert.equal(await canI(GATEWAY_SA, ["list", "pods", "-n", served]), true);
    assert.equal(await canI(CONTROLLER_SA, ["patch", "services", "-n", served]), true);
    assert.equal(await canI(CONTROLLER_SA, ["patch", "portforwards.tunnelkeeper.io", "--subresource=status", "-n", served]), true);
    // the one cluster-scoped rule left, documented in the chart: namespaces for spec.access
    assert.equal(await canI(GATEWAY_SA, ["list", "namespaces"]), true);
    const clusterBindings = JSON.parse(await kubectl(["get", "clusterrolebindings", "-o", "json"])) as {
      items: { metadata: { name: string }; roleRef: { name: string }; subjects?: { kind: string; name: string; namespace?: string }[] }[];
    };
    const ours = clusterBindings.items.filter((b) => (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.namespace === SYSTEM));
    assert.deepEqual(
      ours.map((b) => b.roleRef.name),
      [`${RELEASE}-gateway`],
      "only the gateway's namespaces-read ClusterRole is bound cluster-wide",
    );
    const role = JSON.parse(await kubectl(["get", "clusterrole", `${RELEASE}-gateway`, "-o", "json"])) as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] }]);
  });

  it("serves a PortForward in the watched namespace: verified bytes from a client pod there", async () => {
    await apply([echoDeployment(served), portForward(served, "echo-pf")]);
    await kubectl(["rollout", "status", "-n", served, "deployment/echo", "--timeout=120s"]);
    await kubectl(["wait", "-n", served, "--for=condition=Ready", "--timeout=180s", "portforwards.tunnelkeeper.io/echo-pf"]);
    const { phase, lines } = await runClient(served, "client", ["verify", `echo-pf.${served}`, "9000", String(1 << 20)]);
    assert.equal(lines[0]?.equal, true, JSON.stringify(lines));
    assert.equal(phase, "Succeeded");
  });

  it("refuses a PortForward in another namespace at admission, naming the served namespaces and the fix", async () => {
    const result = await kubectlResult(["apply", "-f", "-"], JSON.stringify(portForward(unserved, "never-served")));
    assert.notEqual(result.code, 0, "the PortForward was admitted");
    assert.match(result.stderr, new RegExp(`would never be served: .* serves only the namespaces ${served}\\.`));
    assert.match(result.stderr, /add "ns-other-[0-9a-f]+" to the chart value watchNamespaces/);
  });
});
