import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadPortForwards } from "../../../src/commands/forward-files.ts";

function manifest(extraSpec: string): string {
  return `apiVersion: tunnelkeeper.io/v1alpha1
kind: PortForward
metadata: {name: db}
spec:
  target: {pod: db-0}
  ports: [{port: 5432, targetPort: 5432}]
${extraSpec}`;
}

function withFile<T>(text: string, run: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "tk-forward-files-"));
  try {
    const path = join(dir, "pf.yaml");
    writeFileSync(path, text);
    return run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("loadPortForwards", () => {
  it("loads a PortForward into the default namespace", () => {
    const loaded = withFile(manifest(""), (path) => loadPortForwards([path], "apps"));
    assert.deepEqual(
      loaded.map((l) => `${l.namespace}/${l.pf.metadata.name}`),
      ["apps/db"],
    );
  });

  it("refuses spec.cluster in one line that says how to pick the cluster instead", () => {
    const text = manifest("  cluster: {kubeconfigSecretRef: {name: cluster-b}}\n");
    withFile(text, (path) => {
      assert.throws(
        () => loadPortForwards([path], "apps"),
        (error: Error) =>
          /spec\.cluster names another cluster, which only the operator serves; .*--context or --kubeconfig/.test(error.message) &&
          !error.message.includes("\n"),
      );
    });
  });
});
