/**
 * Installs the generated PortForward CRD into the suite's control plane, the way a user would
 * (`kubectl apply --server-side`), and waits until it is Established.
 *
 * Idempotent and safe to run from several test files at once: server-side apply of the same
 * manifest under the same field manager is a no-op, and `--force-conflicts` takes over fields
 * if another test installed it under a different manager.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CRD_NAME } from "../../src/api/identity.ts";
import { testCluster } from "../support/cluster.ts";

const exec = promisify(execFile);

export const CRD_PATH = fileURLToPath(new URL("../../crds/tunnelkeeper.io_portforwards.yaml", import.meta.url));

/** Runs the suite's kubectl as the admin; resolves with stdout, rejects with stderr in the message. */
export async function kubectl(...args: string[]): Promise<string> {
  const { state } = testCluster();
  try {
    const { stdout } = await exec(state.kubectl, ["--kubeconfig", state.kubeconfig, ...args], { timeout: 60_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`kubectl ${args.join(" ")} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

let installed: Promise<void> | undefined;

/** Applies the CRD once per process and waits for condition Established. */
export function installCrd(): Promise<void> {
  installed ??= (async () => {
    await kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=tunnelkeeper-tests", "-f", CRD_PATH);
    await kubectl("wait", "--for=condition=Established", "--timeout=60s", `crd/${CRD_NAME}`);
  })();
  return installed;
}
