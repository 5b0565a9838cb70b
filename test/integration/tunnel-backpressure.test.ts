// Backpressure through the real path (client → kube-apiserver → KWOK → backend) when the backend
// reads slowly or not at all. What these show about the protocols themselves (not our engine):
// spdystream has no flow control, so one stalled stream stops KWOK's frame reader and with it
// every connection of the SPDY tunnel; a v4 WebSocket carries one connection, so a stall stays
// in that connection.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { openTunnel, type Tunnel } from "../../src/tunnel/index.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { startSink } from "../support/slow-servers.ts";
import { startEchoServer } from "../support/tcp-servers.ts";
import { echoOnce } from "../support/tunnel-traffic.ts";

const ECHO_PORT = 8080;
const SINK_PORT = 9000;
const MiB = 1024 * 1024;

async function podWithSink(t: TestContext, sinkBytesPerSecond: number): Promise<{ namespace: string; consumed: () => number }> {
  const namespace = await testNamespace(t, "tunnel-bp");
  const echo = await startEchoServer(t);
  const sink = await startSink(t, sinkBytesPerSecond);
  await createBackedPod(testCluster().admin, {
    namespace,
    name: "pod",
    ports: [
      { podPort: ECHO_PORT, host: "127.0.0.1", port: echo.port },
      { podPort: SINK_PORT, host: "127.0.0.1", port: sink.port },
    ],
  });
  return { namespace, consumed: sink.consumed };
}

function teardown(t: TestContext, tunnel: Tunnel, connections: Duplex[]): void {
  t.after(() => {
    for (const connection of connections) {
      connection.on("error", () => undefined);
      connection.destroy();
    }
    tunnel.close();
  });
}

/** Writes 64 KiB chunks, honouring write(), until no 'drain' comes for `quietMs`; returns the bytes accepted. */
async function writeUntilStalled(connection: Duplex, quietMs: number, limit: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let accepted = 0;
  while (accepted < limit) {
    accepted += chunk.length;
    if (connection.write(chunk)) continue;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => connection.once("drain", () => resolve(true))),
      sleep(quietMs).then(() => false),
    ]);
    if (!drained) return accepted;
  }
  return accepted;
}

for (const protocol of ["Tunnel", "Legacy"] as const) {
  const effect =
    protocol === "Tunnel"
      ? "and, SPDY having no flow control, blocks the other connections of the tunnel too"
      : "while other connections of the pod keep flowing";
  test(`${protocol}: a backend that never reads stops our writer after bounded buffering, ${effect}`, async (t) => {
    const pod = await podWithSink(t, 0);
    // Keepalive off: a stalled path would otherwise be (rightly) declared dead mid-test.
    const tunnel = await openTunnel({
      kubeConfig: testCluster().admin,
      namespace: pod.namespace,
      pod: "pod",
      protocol,
      keepaliveIntervalMs: 0,
    });
    const stalled = tunnel.connect(SINK_PORT);
    const other = tunnel.connect(ECHO_PORT);
    teardown(t, tunnel, [stalled, other]);
    assert.ok((await echoOnce(other, Buffer.from("before"))).equals(Buffer.from("before")));

    const bytesOutBefore = tunnel.counters.bytesOut;
    const accepted = await writeUntilStalled(stalled, 2_000, 256 * MiB);
    t.diagnostic(`${protocol}: writer stalled after ${(accepted / MiB).toFixed(1)} MiB (kernel, API server and KWOK buffers included)`);
    assert.ok(accepted < 64 * MiB, `accepted ${accepted} bytes before stalling`);
    assert.ok(tunnel.counters.bytesOut - bytesOutBefore <= accepted, "the engine never sends more than was written");

    const probe = randomBytes(16);
    if (protocol === "Tunnel") {
      await assert.rejects(echoOnce(other, probe, 3_000), /only 0 of 16 echoed bytes/);
    } else {
      assert.ok((await echoOnce(other, probe)).equals(probe));
    }
    assert.deepEqual(tunnel.state, { kind: "open" });
  });
}

for (const protocol of ["Tunnel", "Legacy"] as const) {
  test(`${protocol}: a steady upload to a slow backend (~1 MiB/s) is not mistaken for a dead tunnel by the keepalive (1 s / 6 s)`, async (t) => {
    const pod = await podWithSink(t, MiB);
    const tunnel = await openTunnel({
      kubeConfig: testCluster().admin,
      namespace: pod.namespace,
      pod: "pod",
      protocol,
      keepaliveIntervalMs: 1_000,
      keepaliveTimeoutMs: 6_000,
    });
    const upload = tunnel.connect(SINK_PORT);
    teardown(t, tunnel, [upload]);
    let failure: Error | null = null;
    upload.on("error", (error) => {
      failure = error;
    });
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const started = Date.now();
    while (Date.now() - started < 8_000 && failure === null) {
      if (!upload.write(chunk)) await Promise.race([new Promise((resolve) => upload.once("drain", resolve)), sleep(500)]);
    }
    t.diagnostic(`${protocol}: backend consumed ${(pod.consumed() / MiB).toFixed(1)} MiB in 8 s; error: ${String(failure)}`);
    assert.equal(failure, null);
    assert.deepEqual(tunnel.state, { kind: "open" });
    assert.ok(pod.consumed() > 4 * MiB, "the upload made progress");
  });
}
