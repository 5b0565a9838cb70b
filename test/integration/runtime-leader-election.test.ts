// Leader election (src/runtime/leader-election.ts) on one real Lease (src/kube/lease.ts), with
// short durations: leaseDuration 3 s, renewDeadline 2 s, retryPeriod 0.5 s.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it, type TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { kubeLeaseClient } from "../../src/kube/lease.ts";
import { LeaderElectionError, LeaderElector } from "../../src/runtime/leader-election.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";

const LEASE = "tunnelkeeper-leader";
const TIMING = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

interface Candidate {
  elector: LeaderElector;
  abort: AbortController;
  /** Settles when `start` does; never rejects (the outcome is recorded). */
  done: Promise<{ ok: true } | { ok: false; error: unknown }>;
  ledAt: number | undefined;
  stoppedAt: number | undefined;
  /** Aborted when leadership ends, as `onStartedLeading` sees it. */
  leadSignal: AbortSignal | undefined;
}

function candidate(t: TestContext, kubeConfig: KubeConfig, namespace: string, identity: string): Candidate {
  const client = kubeLeaseClient(kubeConfig, namespace, LEASE);
  const abort = new AbortController();
  const c: Partial<Candidate> = { abort, ledAt: undefined, stoppedAt: undefined };
  c.elector = new LeaderElector({
    client,
    identity,
    ...TIMING,
    onStartedLeading: async (signal) => {
      c.ledAt = Date.now();
      c.leadSignal = signal;
      if (!signal.aborted) await once(signal, "abort");
    },
    onStoppedLeading: () => {
      c.stoppedAt = Date.now();
    },
  });
  c.done = c.elector.start(abort.signal).then(
    () => ({ ok: true }) as const,
    (error: unknown) => ({ ok: false, error }) as const,
  );
  t.after(async () => {
    abort.abort();
    await c.done;
  });
  return c as Candidate;
}

async function eventually(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for: ${what}`);
    await delay(20);
  }
}

async function readLease(kubeConfig: KubeConfig, namespace: string): Promise<V1Lease> {
  return kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace });
}

describe("LeaderElector on a real Lease", () => {
  it("exactly one of two candidates leads; a graceful stop hands over at once", { timeout: 60_000 }, async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "leader");
    const a = candidate(t, admin, namespace, "replica-a");
    const b = candidate(t, admin, namespace, "replica-b");

    await eventually("a leader", () => a.elector.isLeader || b.elector.isLeader);
    // Several renew periods later, still exactly one.
    for (let i = 0; i < 10; i++) {
      assert.equal(Number(a.elector.isLeader) + Number(b.elector.isLeader), 1, "exactly one leader");
      await delay(200);
    }
    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    const lease = await readLease(admin, namespace);
    assert.equal(lease.spec?.holderIdentity, leader.elector.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, 3);
    assert.ok(lease.spec?.renewTime, "renewTime is written");
    assert.ok(Date.now() - new Date(lease.spec.renewTime as unknown as string).getTime() < 2_000, "and kept fresh");

    const stoppedAt = Date.now();
    leader.abort.abort();
    assert.deepEqual(await leader.done, { ok: true });
    assert.equal(leader.leadSignal?.aborted, true);
    assert.ok(leader.stoppedAt);
    await eventually("the follower leading", () => follower.elector.isLeader, 5_000);
    const takeoverMs = (follower.ledAt ?? 0) - stoppedAt;
    t.diagnostic(`takeover after a graceful release: ${takeoverMs} ms`);
    // The follower retries every 0.5–1.1 s and acquires a released Lease at once.
    assert.ok(takeoverMs < 2_000, `takeover took ${takeoverMs} ms, expected well under the 3 s lease duration`);
    const after = await readLease(admin, namespace);
    assert.equal(after.spec?.holderIdentity, follower.elector.identity);
    assert.equal(after.spec?.leaseTransitions, (lease.spec?.leaseTransitions ?? 0) + 1);
  });

  it("a leader killed without releasing is replaced only after the lease duration", { timeout: 60_000 }, async (t) => {
    const { admin, state } = testCluster();
    const namespace = await testNamespace(t, "leader");
    // The first leader runs in its own process so it can really die (SIGKILL: no release).
    const child = spawnCandidate(state.kubeconfig, namespace, "replica-killed");
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    await waitForLine(child, "leading");
    const follower = candidate(t, admin, namespace, "replica-survivor");
    await delay(1_500);
    assert.equal(follower.elector.isLeader, false, "the follower waits while the leader renews");

    const killedAt = Date.now();
    assert.equal(child.exitCode, null, "the leader process is still running");
    child.kill("SIGKILL");
    await once(child, "exit");
    await eventually("the survivor leading", () => follower.elector.isLeader, 10_000);
    const takeoverMs = (follower.ledAt ?? 0) - killedAt;
    t.diagnostic(`takeover after SIGKILL: ${takeoverMs} ms`);
    // The follower may take over once it has seen no change for leaseDuration (3 s), measured from
    // its own last poll that saw a renewal: at most one jittered retry period (≤ 1.1 s) before the
    // kill. So never before 3 − 1.1 s; a takeover within a retry or two means no wait at all.
    assert.ok(takeoverMs >= 1_800, `took over after ${takeoverMs} ms, before the lease could have expired`);
    assert.ok(takeoverMs < 3_000 + 2 * 1_100 + 500, `took over after ${takeoverMs} ms, too long after expiry`);
    const lease = await readLease(admin, namespace);
    assert.equal(lease.spec?.holderIdentity, "replica-survivor");
    assert.equal(lease.spec?.leaseTransitions, 1);
  });

  it("a leader that cannot renew steps down after renewDeadline and does not release", { timeout: 60_000 }, async (t) => {
    const { admin } = testCluster();
    const namespace = await testNamespace(t, "leader");
    const leader = candidate(t, admin, namespace, "replica-a");
    await eventually("leading", () => leader.elector.isLeader);

    // Someone else takes the Lease over (as after a network partition) and keeps renewing it.
    const api = admin.makeApiClient(CoordinationV1Api);
    const intruder = setInterval(() => {
      void api
        .patchNamespacedLease({
          name: LEASE,
          namespace,
          body: [
            { op: "replace", path: "/spec/holderIdentity", value: "intruder" },
            { op: "replace", path: "/spec/renewTime", value: new Date().toISOString().replace("Z", "000Z") },
          ],
        })
        .catch(() => undefined);
    }, 200);
    t.after(() => clearInterval(intruder));

    const lostAt = Date.now();
    const outcome = await leader.done;
    const stepDownMs = Date.now() - lostAt;
    t.diagnostic(`stepped down after ${stepDownMs} ms`);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.error instanceof LeaderElectionError, "start rejects with LeaderElectionError");
    assert.equal(leader.leadSignal?.aborted, true, "the work was told to stop");
    assert.equal(leader.elector.isLeader, false);
    assert.ok(stepDownMs >= 1_500 && stepDownMs < 4_000, `stepped down after ${stepDownMs} ms, expected about renewDeadline (2 s)`);
    clearInterval(intruder);
    const lease = await readLease(admin, namespace);
    assert.equal(lease.spec?.holderIdentity, "intruder", "a leader that lost the Lease must not release it");
  });
});

const CHILD_SCRIPT = `
import { KubeConfig } from "@kubernetes/client-node";
import { kubeLeaseClient } from ${JSON.stringify(new URL("../../src/kube/lease.ts", import.meta.url).href)};
import { LeaderElector } from ${JSON.stringify(new URL("../../src/runtime/leader-election.ts", import.meta.url).href)};
const [kubeconfig, namespace, identity, timing] = process.argv.slice(1);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const elector = new LeaderElector({
  client: kubeLeaseClient(kc, namespace, ${JSON.stringify(LEASE)}),
  identity,
  ...JSON.parse(timing),
  onStartedLeading: (signal) => {
    process.stdout.write("leading\\n");
    return new Promise((resolve) => signal.addEventListener("abort", resolve));
  },
});
// runtime/clock.ts unrefs its timers; in the operator the HTTP servers keep the process alive.
setInterval(() => undefined, 60_000);
await elector.start(new AbortController().signal);
`;

function spawnCandidate(kubeconfig: string, namespace: string, identity: string): ChildProcess {
  return spawn(process.execPath, ["--input-type=module", "-e", CHILD_SCRIPT, kubeconfig, namespace, identity, JSON.stringify(TIMING)], {
    cwd: new URL("../..", import.meta.url).pathname,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function waitForLine(child: ChildProcess, line: string, ms = 15_000): Promise<void> {
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${line}" from the child within ${ms} ms; output: ${output}`)), ms);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.split("\n").includes(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the child exited (${code ?? signal}) before "${line}"; output: ${output}`));
    });
  });
}
