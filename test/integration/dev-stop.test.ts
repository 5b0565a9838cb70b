// `npm run dev` stops however a person stops it: Ctrl-C (SIGINT, exit 0) or closing the terminal
// (SIGHUP, exit 129). Either way nothing of its control plane is left: the cluster directory is
// removed and no process runs from it. dev starts a control plane of its own (not the suite's),
// with gateway ports outside the range the other tests' gateways use.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

const REPO = join(import.meta.dirname, "..", "..");
const READY_LINE = "The demo PortForward is Ready";
const START_TIMEOUT_MS = 180_000;

/** Processes whose command line names `dir` (the control plane's data and certificates are under it). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

interface RunningDev {
  readonly child: ChildProcess;
  readonly clusterDir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts dev in a process group of its own, as a terminal would, and waits until it says the demo is Ready. */
async function startDev(t: TestContext): Promise<RunningDev> {
  const child = spawn(process.execPath, ["dev/dev.ts", "--gateway-port-range", "31000-31999"], {
    cwd: REPO,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let clusterDir: string | undefined;
  t.after(async () => {
    // A failed test must not leave a control plane behind: dev's own graceful stop first, then
    // SIGKILL for dev and for whatever still runs from its cluster directory.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    if (clusterDir !== undefined) for (const pid of processesUsing(clusterDir)) process.kill(pid, "SIGKILL");
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!output.includes(READY_LINE)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      assert.fail(`npm run dev did not report the demo Ready; its output ends:\n${output.slice(-2000)}`);
    }
    clusterDir ??= /control plane ready in [^(]*\(([^)]+)\)/.exec(output)?.[1];
    await sleep(100);
  }
  clusterDir ??= /control plane ready in [^(]*\(([^)]+)\)/.exec(output)?.[1];
  assert.ok(clusterDir !== undefined && existsSync(clusterDir), `no cluster directory in dev's output:\n${output.slice(-2000)}`);
  assert.ok(processesUsing(clusterDir).length >= 4, "etcd, kube-apiserver, KCM and KWOK run from the cluster directory");
  return { child, clusterDir, exited, output: () => output };
}

for (const [signal, code] of [
  ["SIGINT", 0],
  ["SIGHUP", 129],
] as const) {
  test(`npm run dev stops on ${signal} with exit code ${code} and leaves no control plane behind`, { timeout: 300_000 }, async (t) => {
    const dev = await startDev(t);
    dev.child.kill(signal);
    const exit = await dev.exited;
    assert.deepEqual(exit, { code, signal: null }, `dev's output ends:\n${dev.output().slice(-2000)}`);
    assert.equal(existsSync(dev.clusterDir), false, "the cluster directory is removed");
    assert.deepEqual(processesUsing(dev.clusterDir), [], "no control-plane process is left");
  });
}
