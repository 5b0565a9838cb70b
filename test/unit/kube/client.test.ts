import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { describeFailure } from "../../../src/commands/command-error.ts";
import { loadKubeConfig } from "../../../src/kube/client.ts";
import { KubeConfigError } from "../../../src/kube/kubeconfig-error.ts";
import { kubeRequest } from "../../../src/kube/request.ts";
import { StaticKubeConfig } from "../../../src/kube/static-kubeconfig.ts";

const dir = mkdtempSync(join(tmpdir(), "tk-kubeconfig-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfigFile(name: string, user: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: c",
      "  cluster: {server: 'https://127.0.0.1:6443'}",
      "users:",
      `- name: u`,
      `  user: ${JSON.stringify(user)}`,
      "contexts:",
      "- name: x",
      "  context: {cluster: c, user: u, namespace: team-a}",
      "current-context: x",
    ].join("\n"),
  );
  return path;
}

describe("loadKubeConfig", () => {
  it("serves certificates and tokens with our own connection, and names the context's namespace", async () => {
    const loaded = await loadKubeConfig({ kubeconfigPath: kubeconfigFile("token.yaml", { token: "abc" }) });
    assert.ok(loaded.connection instanceof StaticKubeConfig);
    assert.equal(loaded.namespace, "team-a");
  });

  it("hands a user with an exec plugin to @kubernetes/client-node's KubeConfig", async () => {
    const path = kubeconfigFile("exec.yaml", { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "true" } });
    const loaded = await loadKubeConfig({ kubeconfigPath: path });
    assert.equal(loaded.connection.constructor.name, "KubeConfig");
    assert.equal(loaded.connection.getCurrentCluster()?.server, "https://127.0.0.1:6443");
    assert.equal(loaded.namespace, "team-a");
  });

  it("says why an exec plugin gave no credentials, in one KubeConfigError, before any connection", async () => {
    const failing = (script: string) =>
      kubeconfigFile(`exec-${script.length}.yaml`, {
        exec: { apiVersion: "client.authentication.k8s.io/v1", command: "/bin/sh", args: ["-c", script], interactiveMode: "Never" },
      });
    for (const [script, said] of [
      ["echo token expired, run aws sso login >&2; exit 1", "token expired, run aws sso login"],
      ["exit 1", "its credential plugin failed without a message"],
    ] as const) {
      const { connection } = await loadKubeConfig({ kubeconfigPath: failing(script) });
      await assert.rejects(kubeRequest(connection, { method: "GET", path: "/api/v1/namespaces" }), (error: unknown) => {
        assert.ok(error instanceof KubeConfigError);
        assert.equal(error.message, `Could not get credentials from the kubeconfig's user (${said})`);
        assert.equal(describeFailure(error), `${error.message}; pass --kubeconfig or --context, or set KUBECONFIG`);
        return true;
      });
    }
  });

  it("says what is wrong with a file it cannot use", async () => {
    const invalid = join(dir, "invalid.yaml");
    writeFileSync(invalid, "clusters: [unclosed");
    await assert.rejects(loadKubeConfig({ kubeconfigPath: invalid }), (error: unknown) => {
      assert.ok(error instanceof KubeConfigError);
      assert.equal(error.message, `The kubeconfig ${invalid} is not valid YAML`);
      return true;
    });
    await assert.rejects(loadKubeConfig({ kubeconfigPath: join(dir, "absent") }), /Failed to load kubeconfig from .*absent/);
    await assert.rejects(
      loadKubeConfig({ kubeconfigPath: kubeconfigFile("ctx.yaml", {}), context: "other" }),
      /Context "other" is not in the kubeconfig/,
    );
  });

  it("loads no module of @kubernetes/client-node for the operator with a certificate or token kubeconfig", () => {
    // The operator's processes pay for what they import (issue #15, "Lean processes"); type-only
    // imports are erased, so any file of the library loaded here is a value import to remove.
    const hook = `import { registerHooks } from "node:module"; globalThis.loaded = [];
      registerHooks({ load(url, context, next) { globalThis.loaded.push(url); return next(url, context); } });`;
    const script = `
      await import(${JSON.stringify(new URL("../../../src/commands/operator.ts", import.meta.url).href)});
      const { loadKubeConfig } = await import(${JSON.stringify(new URL("../../../src/kube/client.ts", import.meta.url).href)});
      await loadKubeConfig({ kubeconfigPath: ${JSON.stringify(kubeconfigFile("operator.yaml", { token: "abc" }))} });
      console.log(JSON.stringify(globalThis.loaded.filter((url) => url.includes("/node_modules/@kubernetes/client-node/"))));`;
    const output = execFileSync(
      process.execPath,
      ["--import", `data:text/javascript,${encodeURIComponent(hook)}`, "--input-type=module", "-e", script],
      { encoding: "utf8" },
    );
    assert.deepEqual(JSON.parse(output), []);
  });
});
