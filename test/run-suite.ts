/**
 * The whole test suite (`npm test` runs it after type-checking and lint): starts ONE real
 * control plane for the run (building its binaries first if this machine has none cached),
 * runs every test file with Node's test runner against it, and stops it again.
 *
 * Four phases: first every `*.test.ts` file, two files at a time; then the `*.serial.test.ts`
 * files one at a time — they restart control-plane components, which would cut the connections
 * of any test running beside them; then the in-cluster files (`test/in-cluster/`), one at a time,
 * on a REAL node joined to the same control plane (test/cluster/node.ts: the image built from the
 * Dockerfile, the Helm chart, real pods); then `test/host/`, which checks that the host's network,
 * mounts and cgroups were left exactly as they were before the node started. The last line sums
 * every phase: "suite: N passed, N failed".
 * Skipped, todo and cancelled tests fail the suite: a test that does not run is not a pass.
 *
 * Test files find the control plane through environment variables (see test/support/cluster.ts);
 * a test that needs it and does not find it fails, it never skips.
 * Arguments are file globs to run instead of the defaults (serial files among them run last).
 */
import { spawn } from "node:child_process";
import { globSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane } from "./cluster/control-plane.ts";
import { serveControl } from "./cluster/control-server.ts";
import { snapshotHost } from "./cluster/host-state.ts";
import { ensureNodePackages, startNode, stopNode } from "./cluster/node.ts";

const PARALLEL_FILES = ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"];
const SERIAL_FILES = ["test/**/*.serial.test.ts"];
const IN_CLUSTER_FILES = ["test/in-cluster/**/*.test.ts"];
const HOST_FILES = ["test/host/**/*.test.ts"];

interface PhaseResult {
  readonly exitCode: number;
  readonly counts: Record<"tests" | "pass" | "fail" | "cancelled" | "skipped" | "todo", number>;
}

/** Runs one `node --test` phase; counts come from a TAP copy of the report. */
function runPhase(files: readonly string[], concurrency: number, env: NodeJS.ProcessEnv, tapFile: string): Promise<PhaseResult> {
  const args = [
    "--test",
    `--test-concurrency=${concurrency}`,
    "--test-timeout=600000",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  const child = spawn(process.execPath, args, { stdio: "inherit", env });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      const tap = readFileSync(tapFile, "utf8");
      const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(tap)?.[1] ?? 0);
      resolve({
        exitCode: code ?? 1,
        counts: {
          tests: count("tests"),
          pass: count("pass"),
          fail: count("fail"),
          cancelled: count("cancelled"),
          skipped: count("skipped"),
          todo: count("todo"),
        },
      });
    });
  });
}

async function main(args: string[]): Promise<number> {
  const globs = args.length > 0 ? args : [...PARALLEL_FILES, ...SERIAL_FILES, ...IN_CLUSTER_FILES];
  const files = [...new Set(globs.flatMap((pattern) => globSync(pattern)))].sort();
  const inCluster = files.filter((file) => file.startsWith("test/in-cluster/"));
  const hostChecks = inCluster.length > 0 ? [...new Set(HOST_FILES.flatMap((pattern) => globSync(pattern)))].sort() : [];
  const rest = files.filter((file) => !file.startsWith("test/in-cluster/") && !file.startsWith("test/host/"));
  const serial = rest.filter((file) => file.includes(".serial."));
  const parallel = rest.filter((file) => !file.includes(".serial."));
  if (files.length === 0) throw new Error(`no test files match ${globs.join(" ")}`);

  const plane = await startControlPlane();
  const control = await serveControl(plane);
  const stateFile = join(plane.state.workDir, "state.json");
  writeFileSync(stateFile, JSON.stringify(plane.state));
  const env = { ...process.env, TUNNELKEEPER_TEST_STATE: stateFile, TUNNELKEEPER_TEST_CONTROL_URL: control.url };
  const results: PhaseResult[] = [];
  try {
    if (parallel.length > 0) results.push(await runPhase(parallel, 2, env, join(plane.state.workDir, "parallel.tap")));
    if (serial.length > 0) results.push(await runPhase(serial, 1, env, join(plane.state.workDir, "serial.tap")));
    if (inCluster.length > 0) {
      // The node's Debian packages (nftables, iptables, …) are set-up, not the node: installed
      // first, so the "before" snapshot can read the firewall with the same tools as "after"
      // (on a cold machine it otherwise recorded "nft: not found" and the host test failed).
      await ensureNodePackages((line) => process.stdout.write(`${line}\n`));
      const before = await snapshotHost();
      process.stdout.write("[suite] in-cluster phase: starting a real node\n");
      const node = await startNode(plane.state, { progress: (line) => process.stdout.write(`${line}\n`) });
      const nodeFile = join(plane.state.workDir, "node.json");
      writeFileSync(nodeFile, JSON.stringify(node));
      try {
        results.push(
          await runPhase(inCluster, 1, { ...env, TUNNELKEEPER_TEST_NODE: nodeFile }, join(plane.state.workDir, "in-cluster.tap")),
        );
      } finally {
        await stopNode(node, (line) => process.stdout.write(`${line}\n`));
      }
      const after = await snapshotHost();
      const snapshots = join(plane.state.workDir, "host-snapshots.json");
      writeFileSync(snapshots, JSON.stringify({ before, after }));
      if (hostChecks.length > 0) {
        results.push(
          await runPhase(hostChecks, 1, { ...env, TUNNELKEEPER_HOST_SNAPSHOTS: snapshots }, join(plane.state.workDir, "host.tap")),
        );
      }
    }
  } finally {
    await control.close();
    await plane.stop();
  }
  const total = (key: keyof PhaseResult["counts"]) => results.reduce((sum, r) => sum + r.counts[key], 0);
  const notRun = total("skipped") + total("todo") + total("cancelled");
  const failed = total("fail") + notRun;
  const ok = results.length > 0 && results.every((r) => r.exitCode === 0) && failed === 0 && total("pass") > 0;
  if (notRun > 0) process.stdout.write(`${notRun} tests were skipped, todo or cancelled: a test that does not run is not a pass\n`);
  process.stdout.write(`suite: ${total("pass")} passed, ${failed} failed\n`);
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test suite could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
