// Leader election of controller processes (`--leader-elect`, Lease tunnelkeeper-system/
// tunnelkeeper-controller, durations 15 s/10 s/2 s): exactly one replica holds the Lease and
// reconciles; when it is SIGKILLed another takes over once the lease has expired, and when it is
// SIGTERMed (the Lease is released) another takes over within a retry period or two. Both
// takeover times are printed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd, type OperatorProcess, startOperatorProcess } from "../support/operator-process.ts";
import { PortForwards, waitFor } from "../support/portforwards.ts";

const LEASE = { name: "tunnelkeeper-controller", namespace: "tunnelkeeper-system" };

function becameLeader(process: OperatorProcess): boolean {
  return process.logs.some((line) => line.msg === "Became leader; reconciling");
}

async function reconcileCount(process: OperatorProcess): Promise<number> {
  const text = await process.metrics();
  let total = 0;
  for (const match of text.matchAll(/^controller_runtime_reconcile_total\{controller="portforward",[^}]*\} (\d+)$/gm))
    total += Number(match[1]);
  return total;
}

test("controller processes with --leader-elect: one leader, takeover after SIGKILL and after SIGTERM", async (t) => {
  const cluster = testCluster();
  const { kubeconfig } = cluster.state;
  await installCrd(cluster);
  const namespace = await testNamespace(t, "ctl-leader");
  const gatewayNamespace = await testNamespace(t, "ctl-leader-gw");
  const pfs = new PortForwards(cluster.admin, namespace);
  const coordination = cluster.admin.makeApiClient(CoordinationV1Api);
  const holder = async () => (await coordination.readNamespacedLease(LEASE).catch(() => undefined))?.spec?.holderIdentity ?? "";
  const start = (podName: string) =>
    startOperatorProcess(
      {
        command: "controller",
        kubeconfig,
        podName,
        podNamespace: LEASE.namespace,
        args: ["--leader-elect", "--namespace", namespace, "--gateway-namespace", gatewayNamespace],
      },
      t,
    );
  const reconciled = (name: string, timeoutMs: number) =>
    waitFor(`${name} reconciled`, async () => ((await pfs.get(name))?.status?.observedGeneration === 1 ? true : undefined), timeoutMs, 100);

  const [a, b] = await Promise.all([start("ctl-a"), start("ctl-b")]);
  const leaderIdentity = await waitFor("a Lease holder", async () => {
    const identity = await holder();
    return identity === "" ? undefined : identity;
  });
  const [leader, follower] = leaderIdentity.startsWith("ctl-a_") ? [a, b] : [b, a];
  assert.ok(leaderIdentity.startsWith(`${leader.podName}_`), `holder ${leaderIdentity} is one of the two`);
  await waitFor("the leader to log Became leader", async () => (becameLeader(leader) ? true : undefined));

  await pfs.create("first", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  await reconciled("first", 15_000);
  // The metric counts a reconcile once it returned, a moment after its status write.
  await waitFor("the leader to count a reconcile", async () => ((await reconcileCount(leader)) > 0 ? true : undefined), 5_000);
  assert.equal(await reconcileCount(follower), 0, "the follower does not reconcile");
  assert.equal(becameLeader(follower), false, "exactly one replica became leader");

  // SIGKILL: the Lease is not released, so the follower waits for it to expire (15 s).
  await leader.kill();
  const killed = Date.now();
  await pfs.create("after-kill", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  await reconciled("after-kill", 40_000);
  const killTakeoverMs = Date.now() - killed;
  assert.ok(becameLeader(follower), "the follower became leader");
  assert.ok((await holder()).startsWith(`${follower.podName}_`), "and holds the Lease");

  // SIGTERM: the leader drains, releases the Lease, and a standby takes over at its next retry.
  const standby = await start("ctl-c");
  await waitFor("the standby to see the leader", async () =>
    standby.logs.some((line) => line.msg === "Another replica leads") ? true : undefined,
  );
  const exitCode = await follower.stop();
  const terminated = Date.now();
  assert.equal(exitCode, 0, "the leader exits 0 on SIGTERM");
  await pfs.create("after-term", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  await reconciled("after-term", 20_000);
  const termTakeoverMs = Date.now() - terminated;
  assert.ok(becameLeader(standby), "the standby became leader");
  assert.ok((await holder()).startsWith(`${standby.podName}_`), "and holds the Lease");

  t.diagnostic(`takeover after SIGKILL: ${killTakeoverMs} ms (lease duration 15 s + retry); after SIGTERM: ${termTakeoverMs} ms`);
  console.log(`controller leader takeover: SIGKILL ${killTakeoverMs} ms, SIGTERM ${termTakeoverMs} ms`);
  // Killed: nobody may lead before the lease expires (the follower last saw a renewal at most
  // one retry, 2–4.4 s, before the kill); then it takes over within a retry.
  assert.ok(killTakeoverMs >= 8_000, `a killed leader was replaced after ${killTakeoverMs} ms, before its lease could expire`);
  assert.ok(killTakeoverMs <= 15_000 + 7_000, `takeover after SIGKILL took ${killTakeoverMs} ms`);
  assert.ok(termTakeoverMs <= 7_000, `takeover after SIGTERM took ${termTakeoverMs} ms`);

  assert.equal(await standby.stop(), 0);
  assert.equal(await holder(), "", "a leader stopped with SIGTERM leaves the Lease released");
});
