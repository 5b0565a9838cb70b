// tunnelkeeper's operator commands as a person runs them against a real control plane: help and
// version, usage errors, a missing Lease namespace (created by run, one clear line from controller
// and gateway), and Ctrl-C (SIGINT to the process group) ending `run` within 2 s with exit code 0
// after the gateway withdrew its Lease.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { gatewayLeaseName } from "../../src/api/identity.ts";
import { isNotFound } from "../../src/kube/errors.ts";
import { freePort } from "../cluster/probes.ts";
import { MAIN, runCli, startCli } from "../support/cli-process.ts";
import { testCluster } from "../support/cluster.ts";
import { installCrd } from "../support/operator-process.ts";

const node = process.execPath;

describe("tunnelkeeper help, version and usage errors", () => {
  it("answers --help, -h, help <command> and <command> --help with kubectl-style help, exit 0", async (t) => {
    const root = await runCli(node, [MAIN, "--help"], t);
    assert.equal(root.code, 0);
    assert.match(root.stdout.join("\n"), /Commands:\n {2}controller .*\n {2}gateway .*\n {2}run .*\n {2}forward /);
    for (const args of [
      ["forward", "--help"],
      ["forward", "-h"],
      ["help", "forward"],
    ]) {
      const help = await runCli(node, [MAIN, ...args], t);
      assert.equal(help.code, 0, args.join(" "));
      const text = help.stdout.join("\n");
      assert.match(text, /^Forward one or more local ports/);
      assert.match(text, /\n {4}--pod-running-timeout=1m0s:\n\t/);
      assert.match(text, /\n {4}--address=\[localhost\]:\n\t/);
      assert.match(text, /\nUsage:\n {2}tunnelkeeper forward TYPE\/NAME \[options\]/);
    }
  });

  it("prints the tunnelkeeper and Node.js versions for version and --version", async (t) => {
    for (const args of [["version"], ["--version"]]) {
      const result = await runCli(node, [MAIN, ...args], t);
      assert.equal(result.code, 0);
      assert.deepEqual(result.stdout, ["tunnelkeeper: v0.1.0", `Node.js: ${process.version}`]);
    }
    const json = await runCli(node, [MAIN, "version", "-o", "json"], t);
    assert.deepEqual(JSON.parse(json.stdout.join("")), { tunnelkeeper: "0.1.0", node: process.version });
  });

  it("refuses another command's flag and bad values with one line naming the flag, exit 2", async (t) => {
    const cases: [string[], RegExp][] = [
      [["gateway", "--leader-elect"], /^error: unknown flag --leader-elect for "tunnelkeeper gateway"; see 'tunnelkeeper gateway --help'/],
      [["run", "--drain-timeout", "soon"], /^error: --drain-timeout: "soon" is not a duration/],
      [["forward", "pod/x", "80", "--address", "example.com"], /^error: --address takes IP addresses or localhost/],
      [["launch"], /^error: unknown command "launch" for "tunnelkeeper"/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(node, [MAIN, ...args], t);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stderr.length, 1, `one line, got:\n${result.stderr.join("\n")}`);
      assert.match(result.stderr[0]!, message);
      assert.deepEqual(result.stdout, []);
    }
  });
});

describe("the Lease namespace is missing", () => {
  it("controller and gateway fail within seconds with one line naming the namespace and the flag", async (t) => {
    const cluster = testCluster();
    await installCrd(cluster);
    const missing = `missing-${randomBytes(4).toString("hex")}`;
    const kubeconfig = cluster.state.kubeconfig;
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [["controller", "--gateway-namespace", missing], {}, /--gateway-namespace/],
      [
        ["controller", "--leader-elect", "--gateway-namespace", "tunnelkeeper-system", "--leader-election-namespace", missing],
        {},
        /--leader-election-namespace/,
      ],
      [["gateway"], { POD_NAMESPACE: missing }, /--gateway-namespace/],
    ];
    for (const [args, env, flag] of cases) {
      const result = await runCli(node, [MAIN, ...args, "--kubeconfig", kubeconfig, "--metrics-bind-address", "127.0.0.1:0"], t, env);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr.join("\n")}`);
      assert.ok(result.ms < 10_000, `took ${result.ms.toFixed(0)} ms`);
      assert.equal(result.stderr.length, 1, `one line, got:\n${result.stderr.join("\n")}`);
      assert.match(
        result.stderr[0]!,
        new RegExp(`^error: namespace "${missing}" not found; create it \\(kubectl create namespace ${missing}\\) or choose another with `),
      );
      assert.match(result.stderr[0]!, flag);
    }
  });

  it("run creates it, serves, and on Ctrl-C exits 0 within 2 s after deleting its Lease", async (t) => {
    const cluster = testCluster();
    await installCrd(cluster);
    const namespace = `tk-run-${randomBytes(4).toString("hex")}`;
    const core = cluster.admin.makeApiClient(CoreV1Api);
    t.after(() => core.deleteNamespace({ name: namespace }).catch(() => undefined));
    const port = await freePort();
    const podName = `run-${randomBytes(3).toString("hex")}`;
    const run = startCli(
      node,
      [
        MAIN,
        "run",
        "--kubeconfig",
        cluster.state.kubeconfig,
        "--gateway-namespace",
        namespace,
        "--metrics-bind-address",
        `127.0.0.1:${port}`,
        "-n",
        namespace,
      ],
      t,
      { POD_NAME: podName },
    );
    const leases = cluster.admin.makeApiClient(CoordinationV1Api);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      assert.ok(Date.now() < deadline, `run not ready in 30 s:\n${run.stdout.join("\n")}\n${run.stderr.join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await core.readNamespace({ name: namespace });
    const created = run.stdout.find((line) => line.includes("Created namespace"));
    assert.ok(created?.includes(namespace), `run says it created the namespace:\n${run.stdout.join("\n")}`);
    await leases.readNamespacedLease({ namespace, name: gatewayLeaseName(podName) });
    // One process, one registry: the controller's loop and the gateway's two share the controller-runtime families.
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    for (const loop of ["portforward", "gateway-sync", "gateway-status"]) {
      assert.match(metrics, new RegExp(`^controller_runtime_reconcile_total\\{controller="${loop}",result="success"\\} \\d`, "m"));
      assert.match(metrics, new RegExp(`^workqueue_depth\\{name="${loop}"\\} \\d`, "m"));
    }

    const { code, ms } = await run.interrupt("SIGINT");
    t.diagnostic(`run: exit ${code} ${ms.toFixed(0)} ms after SIGINT`);
    assert.equal(code, 0, run.stdout.slice(-5).join("\n"));
    assert.ok(ms < 2000, `run took ${ms.toFixed(0)} ms to exit after Ctrl-C (limit 2 s)`);
    await assert.rejects(leases.readNamespacedLease({ namespace, name: gatewayLeaseName(podName) }), (error: unknown) => isNotFound(error));
  });
});
