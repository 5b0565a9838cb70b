// The npm package as a laptop user gets it: `npm pack` yields a tarball with the compiled CLI and
// no test code; installed into a fresh prefix, `tunnelkeeper` and `kubectl-tunnelkeeper` run,
// `kubectl tunnelkeeper` finds the plugin, and the installed `forward` carries bytes to a pod.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { freePort } from "../cluster/probes.ts";
import { runCli, startCli } from "../support/cli-process.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { runCommand } from "../support/run-command.ts";
import { startEchoServer } from "../support/tcp-servers.ts";
import { echoOnce } from "../support/tunnel-traffic.ts";

const pkg = (await import("../../package.json", { with: { type: "json" } })).default as { version: string };

describe("the npm package", () => {
  it("packs the compiled CLI only, installs in a clean prefix, and runs as tunnelkeeper and kubectl tunnelkeeper", async (t) => {
    const cluster = testCluster();
    const work = mkdtempSync(join(tmpdir(), "tk-package-"));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    // npm runs with this Node.js (24) first on PATH, as on a user's machine with Node.js 24.
    const path = `${dirname(process.execPath)}:${process.env.PATH}`;
    const npm = async (args: string[]) => {
      const result = await runCli("npm", args, t, { PATH: path });
      return { code: result.code, out: [...result.stdout, ...result.stderr].join("\n") };
    };
    const packed = await npm(["pack", "--pack-destination", work, "--silent"]);
    assert.equal(packed.code, 0, packed.out);
    const tarball = join(work, `tunnelkeeper-${pkg.version}.tgz`);
    const listing = await runCommand("tar", ["tzf", tarball]);
    const files = listing.stdout.trim().split("\n");
    const tops = [...new Set(files.map((f) => f.split("/")[1]))].sort();
    assert.deepEqual(tops, ["README.md", "crds", "dist", "package.json"], "only the compiled CLI, the CRDs and the README");
    assert.ok(files.includes("package/dist/main.js"));
    assert.ok(
      !files.some((f) => /\/(test|bench|dev|scripts|src)\//.test(f) || f.endsWith(".ts")),
      "no test, dev or TypeScript source in the package",
    );

    const prefix = join(work, "prefix");
    const installed = await npm([
      "install",
      "-g",
      "--prefix",
      prefix,
      tarball,
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--omit=dev",
    ]);
    assert.equal(installed.code, 0, installed.out);
    assert.deepEqual(readdirSync(join(prefix, "bin")).sort(), ["kubectl-tunnelkeeper", "tunnelkeeper"]);
    const modules = readdirSync(join(prefix, "lib", "node_modules", "tunnelkeeper", "node_modules"));
    for (const dev of ["typescript", "@biomejs", "fast-check", "esbuild"])
      assert.ok(!modules.includes(dev), `${dev} (a devDependency) was installed`);

    const env = { PATH: `${join(prefix, "bin")}:${path}` };
    const version = await runCli(join(prefix, "bin", "tunnelkeeper"), ["version"], t, env);
    assert.deepEqual(version.stdout, [`tunnelkeeper: v${pkg.version}`, `Node.js: ${process.version}`]);
    const pluginHelp = await runCli(join(prefix, "bin", "kubectl-tunnelkeeper"), ["forward", "--help"], t, env);
    assert.equal(pluginHelp.code, 0);
    assert.match(pluginHelp.stdout.join("\n"), /\nUsage:\n {2}kubectl tunnelkeeper forward TYPE\/NAME/);
    const viaKubectl = await runCli(cluster.kubectl, ["tunnelkeeper", "version"], t, env);
    assert.equal(viaKubectl.code, 0, viaKubectl.stderr.join("\n"));
    assert.equal(viaKubectl.stdout[0], `tunnelkeeper: v${pkg.version}`);

    const namespace = await testNamespace(t, "cli-pkg");
    const echo = await startEchoServer(t);
    const podPort = await freePort();
    await createBackedPod(cluster.admin, { namespace, name: "web", ports: [{ podPort, host: "127.0.0.1", port: echo.port }] });
    const forward = startCli(
      cluster.kubectl,
      [
        "tunnelkeeper",
        "forward",
        "web",
        `:${podPort}`,
        "-n",
        namespace,
        "--kubeconfig",
        cluster.state.kubeconfig,
        "--address",
        "127.0.0.1",
      ],
      t,
      env,
    );
    const [, port] = await forward.waitForLine(/^Forwarding from 127\.0\.0\.1:(\d+) -> \d+$/, 30_000);
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    const payload = randomBytes(16 * 1024);
    assert.deepEqual(await echoOnce(socket, payload), payload);
    socket.destroy();
    const stopped = await forward.interrupt("SIGINT");
    assert.equal(stopped.code, 0);
  });
});
