// The single executable (scripts/build-sea.ts) as a laptop user runs it: one file, no Node.js
// and no node_modules beside it, that prints its version and help, refuses unknown commands with
// one line, and forwards bytes to a pod like the npm package does.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildSea } from "../../scripts/build-sea.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { freePort } from "../cluster/probes.ts";
import { runCli, startCli } from "../support/cli-process.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { startEchoServer } from "../support/tcp-servers.ts";
import { echoOnce } from "../support/tunnel-traffic.ts";

const pkg = (await import("../../package.json", { with: { type: "json" } })).default as { version: string };

describe("the single executable", () => {
  it("runs on its own: version, help, a one-line usage error, and forward carries bytes to a pod", async (t) => {
    const cluster = testCluster();
    const work = mkdtempSync(join(tmpdir(), "tk-sea-"));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const exe = buildSea(join(work, "tunnelkeeper"));
    t.diagnostic(`single executable: ${(statSync(exe).size / 2 ** 20).toFixed(0)} MiB`);
    // An empty PATH: nothing but the file itself (no node, no npm) is there to lean on.
    const env = { PATH: "/nonexistent" };
    const version = await runCli(exe, ["version"], t, env);
    assert.deepEqual(version.stdout, [`tunnelkeeper: v${pkg.version}`, `Node.js: ${process.version}`]);
    const help = await runCli(exe, ["forward", "--help"], t, env);
    assert.equal(help.code, 0);
    assert.match(help.stdout.join("\n"), /kubectl port-forward/);
    const bogus = await runCli(exe, ["bogus"], t, env);
    assert.equal(bogus.code, 2);
    assert.equal(bogus.stderr.length, 1, `one line: ${bogus.stderr.join("\n")}`);

    const namespace = await testNamespace(t, "cli-sea");
    const echo = await startEchoServer(t);
    const podPort = await freePort();
    await createBackedPod(cluster.admin, { namespace, name: "web", ports: [{ podPort, host: "127.0.0.1", port: echo.port }] });
    const forward = startCli(
      exe,
      ["forward", "web", `:${podPort}`, "-n", namespace, "--kubeconfig", cluster.state.kubeconfig, "--address", "127.0.0.1"],
      t,
      env,
    );
    const [, port] = await forward.waitForLine(/^Forwarding from 127\.0\.0\.1:(\d+) -> \d+$/, 30_000);
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    const payload = randomBytes(256 * 1024);
    assert.deepEqual(await echoOnce(socket, payload), payload);
    socket.destroy();
    const stopped = await forward.interrupt("SIGINT");
    assert.equal(stopped.code, 0);
  });
});
