// End to end: SIGTERM of a gateway (started with --drain-timeout 5s) with an open client
// connection. The gateway stops accepting new connections at once, the open connection keeps
// working until the client finishes it, and the process then exits 0 without waiting out the
// drain timeout; a connection that never finishes is cut when the drain timeout ends, and the
// process still exits 0.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createBackedPod } from "../cluster/pods.ts";
import { testNamespace } from "../support/cluster.ts";
import { connectTo, type Endpoint, echoOn, gatewayPortOf, isReady, startOperator, waitFor } from "../support/e2e.ts";
import type { OperatorProcess } from "../support/operator-process.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

/** Resolves `true` once connecting is refused (the listener is closed). */
async function refusesConnections(endpoint: Endpoint): Promise<true | undefined> {
  try {
    const socket = await connectTo(endpoint);
    socket.destroy();
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ECONNREFUSED" ? true : undefined;
  }
}

function whenClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())));
}

function sigterm(gateway: OperatorProcess): { at: number; exit: Promise<{ code: number | null; at: number }> } {
  const at = performance.now();
  return { at, exit: gateway.stop().then((code) => ({ code, at: performance.now() })) };
}

test("SIGTERM drains open connections, refuses new ones, and exits 0", async (t) => {
  const namespace = await testNamespace(t, "e2e-drain");
  const { cluster, gateways, hosts, portForwards } = await startOperator(t, namespace, { gateways: [{}, {}] });
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const pf = await portForwards.until(
    "web",
    "Ready=True with both gateways connected",
    (p) => isReady(p) && (p.status?.gateways ?? []).filter((g) => g.connected).length === 2,
  );
  const port = gatewayPortOf(pf, 80);

  await t.test("an open connection keeps working after SIGTERM and the process exits once it ends", async () => {
    const endpoint = { host: hosts[0]!, port };
    const socket = await connectTo(endpoint);
    const first = randomBytes(16 * 1024);
    assert.ok((await echoOn(socket, first)).equals(first));

    const term = sigterm(gateways[0]!);
    let exitedEarly = false;
    void term.exit.then(() => {
      exitedEarly = true;
    });
    // Keep using the open connection for a second after SIGTERM, reading every echo.
    let rounds = 0;
    while (performance.now() - term.at < 1_000) {
      const payload = randomBytes(8 * 1024);
      assert.ok((await echoOn(socket, payload, 5_000)).equals(payload), `echo ${rounds} after SIGTERM`);
      rounds += 1;
      await sleep(50);
    }
    t.diagnostic(`${rounds} echoes on the open connection during the first second after SIGTERM`);
    // New connections are refused while the open one drains.
    await waitFor("new connections to be refused", () => refusesConnections(endpoint), 3_000, 50);
    const late = randomBytes(1024);
    assert.ok((await echoOn(socket, late, 5_000)).equals(late), "the open connection still works after the listener closed");
    assert.equal(exitedEarly, false, "the process waits for the open connection");

    // The client finishes: FIN; the gateway closes its side (after the half-close grace, since
    // KWOK never passes the FIN on to the pod) and, with nothing left to drain, exits.
    const ended = performance.now();
    socket.end();
    await whenClosed(socket);
    const { code, at } = await term.exit;
    t.diagnostic(
      `connection closed ${(performance.now() - ended).toFixed(0)} ms after the client's FIN; exit ${(at - term.at).toFixed(0)} ms after SIGTERM`,
    );
    assert.equal(code, 0, "exit code 0");
    assert.ok(at - term.at < 5_000, "exited before the 5 s drain timeout, as soon as the connection finished");
  });

  await t.test("a connection still open when the drain timeout ends is cut, and the exit code is 0", async () => {
    const endpoint = { host: hosts[1]!, port };
    const socket = await connectTo(endpoint);
    const payload = randomBytes(1024);
    assert.ok((await echoOn(socket, payload)).equals(payload));
    socket.on("error", () => undefined);
    const term = sigterm(gateways[1]!);
    await whenClosed(socket);
    const cutAfter = performance.now() - term.at;
    const { code, at } = await term.exit;
    t.diagnostic(`open connection cut ${cutAfter.toFixed(0)} ms after SIGTERM; exit after ${(at - term.at).toFixed(0)} ms`);
    assert.ok(cutAfter >= 4_500 && cutAfter < 10_000, `cut at the 5 s drain timeout, not after ${cutAfter.toFixed(0)} ms`);
    assert.equal(code, 0, "exit code 0");
  });
});
