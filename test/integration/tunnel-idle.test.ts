// A tunnel left idle for 2 minutes with the default keepalive (10 s) against the real control
// plane, then used again. In a file of its own so the runner overlaps it with other files;
// both protocols run concurrently inside it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_KEEPALIVE_INTERVAL_MS, openTunnel, TUNNEL_SUBPROTOCOL, V4_CHANNEL_PROTOCOL } from "../../src/tunnel/index.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { startEchoServer } from "../support/tcp-servers.ts";
import { echoOnce } from "../support/tunnel-traffic.ts";
import { webSocketTap } from "../support/websocket-tap.ts";

const IDLE_MS = 120_000;
const ECHO_PORT = 8080;

describe("idle tunnels with the default keepalive", { concurrency: true }, () => {
  for (const protocol of ["Tunnel", "Legacy"] as const) {
    const wire = protocol === "Tunnel" ? TUNNEL_SUBPROTOCOL : V4_CHANNEL_PROTOCOL;
    test(`${wire}: a connection idle for 2 minutes still carries bytes, and so does a new one`, {
      timeout: IDLE_MS + 60_000,
    }, async (t) => {
      const cluster = testCluster();
      const namespace = await testNamespace(t, "tunnel-idle");
      const echo = await startEchoServer(t);
      await createBackedPod(cluster.admin, {
        namespace,
        name: "echo",
        ports: [{ podPort: ECHO_PORT, host: "127.0.0.1", port: echo.port }],
      });
      const tap = webSocketTap();
      const tunnel = await openTunnel({ kubeConfig: cluster.admin, namespace, pod: "echo", protocol, dial: tap.dial });
      t.after(() => tunnel.close());
      assert.equal(tunnel.protocol, wire);
      const old = tunnel.connect(ECHO_PORT);
      const first = randomBytes(8192);
      assert.ok((await echoOnce(old, first)).equals(first));

      await sleep(IDLE_MS);

      assert.deepEqual(tunnel.state, { kind: "open" });
      const expectedPings = Math.floor(IDLE_MS / DEFAULT_KEEPALIVE_INTERVAL_MS) - 1;
      assert.ok(tap.webSocketPongs() >= expectedPings, `WebSocket pongs during the idle time: ${tap.webSocketPongs()}`);
      if (protocol === "Tunnel") {
        const echoes = tap.spdyPingIds().length;
        assert.ok(echoes >= expectedPings, `SPDY PING echoes during the idle time: ${echoes}`);
      }
      const second = randomBytes(8192);
      assert.ok((await echoOnce(old, second)).equals(second), "the connection opened before the idle time");
      const fresh = tunnel.connect(ECHO_PORT);
      const third = randomBytes(8192);
      assert.ok((await echoOnce(fresh, third)).equals(third), "a connection opened after the idle time");
      old.destroy();
      fresh.destroy();
      assert.equal(echo.accepted(), 2);
      t.diagnostic(
        `${protocol}: ${tap.webSocketPongs()} WebSocket pongs, ${tap.spdyPingIds().length} SPDY PING echoes in ${IDLE_MS / 1000} s`,
      );
    });
  }
});
