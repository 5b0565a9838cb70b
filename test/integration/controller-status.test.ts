// kstatus behaviour of a PortForward with the controller (and later a gateway) as real processes:
// `kubectl wait --for=condition=Ready=false` works on a new PortForward at once, Ready is not True
// before a gateway reports, becomes True once a gateway holds a tunnel, and falls back when the
// gateway goes away; status.observedGeneration follows spec edits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { installCrd, startOperatorProcess } from "../support/operator-process.ts";
import { condition, hasCondition, kubectl, PortForwards, waitFor, watchPortForwards } from "../support/portforwards.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

test("controller process: Ready false at once, True only with a gateway, observedGeneration follows the spec", async (t) => {
  const cluster = testCluster();
  const kc = cluster.admin;
  const { kubeconfig } = cluster.state;
  await installCrd(cluster);
  const namespace = await testNamespace(t, "ctl-status");
  // Our own gateway namespace: only the gateway this test starts counts as live.
  const gatewayNamespace = await testNamespace(t, "ctl-status-gw");
  const pfs = new PortForwards(kc, namespace);
  const echo = await startEchoServer(t);
  await createBackedPod(kc, { namespace, name: "app-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });

  const readyTrueAt: number[] = [];
  const stopWatch = watchPortForwards(kc, namespace, (pf) => {
    if (hasCondition(pf, "Ready", "True")) readyTrueAt.push(Date.now());
  });
  t.after(stopWatch);

  await startOperatorProcess({ command: "controller", kubeconfig, podNamespace: gatewayNamespace, args: ["--namespace", namespace] }, t);
  const created = Date.now();
  await pfs.create("x", { target: { pod: "app-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  await kubectl(cluster.kubectl, kubeconfig, ["wait", "-n", namespace, "--for=condition=Ready=false", "--timeout=30s", "pf/x"]);
  const waitMs = Date.now() - created;
  t.diagnostic(`kubectl wait --for=condition=Ready=false succeeded ${waitMs} ms after create`);
  assert.ok(waitMs < 10_000, `kubectl wait took ${waitMs} ms`);

  const pending = await pfs.get("x");
  assert.equal(hasCondition(pending, "Ready", "False", "NoGatewayReporting"), true);
  assert.equal(hasCondition(pending, "Reconciling", "True", "NoGatewayReporting"), true, "kstatus: in progress");
  assert.equal(condition(pending, "Stalled"), undefined);
  assert.equal(pending?.status?.observedGeneration, 1);

  // observedGeneration follows a spec edit (generation 2), on the status and on every condition.
  const patched = await pfs.patchSpec("x", { keepalive: { interval: "20s" } });
  assert.equal(patched.metadata.generation, 2);
  const observed = await waitFor("status.observedGeneration 2", async () => {
    const pf = await pfs.get("x");
    return pf?.status?.observedGeneration === 2 ? pf : undefined;
  });
  for (const c of observed.status?.conditions ?? []) assert.equal(c.observedGeneration, 2, `${c.type}.observedGeneration`);

  // Some time with a ready pod but no gateway: Ready stays False.
  await sleep(1_500);
  assert.deepEqual(readyTrueAt, [], "no Ready=True before a gateway reports");
  assert.equal(hasCondition(await pfs.get("x"), "Ready", "False", "NoGatewayReporting"), true);

  const gatewayStarted = Date.now();
  const gateway = await startOperatorProcess(
    { command: "gateway", kubeconfig, podNamespace: gatewayNamespace, args: ["--namespace", namespace], listenHost: "127.0.0.1" },
    t,
  );
  await kubectl(cluster.kubectl, kubeconfig, ["wait", "-n", namespace, "--for=condition=Ready", "--timeout=30s", "pf/x"]);
  t.diagnostic(`Ready=True ${Date.now() - gatewayStarted} ms after the gateway process was started`);
  assert.ok(readyTrueAt.length > 0 && readyTrueAt.every((at) => at >= gatewayStarted), "Ready=True only after the gateway started");
  const ready = await pfs.get("x");
  assert.equal(hasCondition(ready, "TunnelConnected", "True", "Connected"), true);
  assert.equal(condition(ready, "Reconciling"), undefined, "kstatus: Reconciling absent when done");
  assert.equal(condition(ready, "Stalled"), undefined);
  assert.equal(ready?.status?.observedGeneration, 2);
  assert.deepEqual(ready?.status?.targets, [{ pod: "app-0", ready: true, gateways: [gateway.podName] }]);
  assert.equal(ready?.status?.gateways?.find((g) => g.pod === gateway.podName)?.connected, true);

  // The gateway leaves (SIGTERM releases its heartbeat Lease): Ready is no longer True.
  assert.equal(await gateway.stop(), 0, "the gateway exits 0 on SIGTERM");
  const stopped = Date.now();
  const fallen = await waitFor("Ready to leave True after the gateway stopped", async () => {
    const pf = await pfs.get("x");
    return condition(pf, "Ready")?.status === "False" ? pf : undefined;
  });
  t.diagnostic(`Ready=False (${condition(fallen, "Ready")?.reason}) ${Date.now() - stopped} ms after the gateway exited`);
});
