// The tunnel engine (src/tunnel) against the real control plane: kube-apiserver v1.36 relaying
// pods/portforward to KWOK, whose forwarder uses the kubelet's own streaming library and maps
// pod ports to local TCP servers. Each behaviour runs over the KEP-4006 tunnel
// (`SPDY/3.1+portforward.k8s.io`) and the legacy `v4.channel.k8s.io` protocol where it applies.
//
// KWOK does not propagate a half-close to the backend (see test/support/tunnel-traffic.ts), so
// a check ends when every expected byte has arrived and the connection is then destroyed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect as connectTcp } from "node:net";
import type { Duplex } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import {
  closeReasonFor,
  isTunnelError,
  type OpenTunnelOptions,
  openTunnel,
  TUNNEL_SUBPROTOCOL,
  type Tunnel,
  TunnelErrorCode,
  V4_CHANNEL_PROTOCOL,
} from "../../src/tunnel/index.ts";
import { createBackedPod } from "../cluster/pods.ts";
import { extraApiServer, testCluster, testNamespace } from "../support/cluster.ts";
import { startKubectlPortForward } from "../support/kubectl-port-forward.ts";
import { refusedPort, startEchoServer } from "../support/tcp-servers.ts";
import { connectionError, echoOnce, eventually, streamRandomEcho } from "../support/tunnel-traffic.ts";
import { webSocketTap } from "../support/websocket-tap.ts";

const PROTOCOLS = ["Tunnel", "Legacy"] as const;
const WIRE_PROTOCOL = { Tunnel: TUNNEL_SUBPROTOCOL, Legacy: V4_CHANNEL_PROTOCOL } as const;
const ECHO_PORT = 8080;
const REFUSED_PORT = 8081;
const MiB = 1024 * 1024;

interface EchoPod {
  readonly namespace: string;
  readonly name: string;
  readonly accepted: () => number;
}

/** A fresh namespace with a KWOK pod whose port 8080 reaches a local echo server. */
async function echoPod(t: TestContext, extraPorts: { podPort: number; port: number }[] = []): Promise<EchoPod> {
  const cluster = testCluster();
  const namespace = await testNamespace(t, "tunnel");
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, {
    namespace,
    name: "echo",
    ports: [
      { podPort: ECHO_PORT, host: "127.0.0.1", port: echo.port },
      ...extraPorts.map((p) => ({ podPort: p.podPort, host: "127.0.0.1", port: p.port })),
    ],
  });
  return { namespace, name: "echo", accepted: echo.accepted };
}

/** Opens a tunnel that is closed when the test ends (its connections destroyed first). */
async function openTestTunnel(t: TestContext, options: OpenTunnelOptions): Promise<{ tunnel: Tunnel; connect: (port: number) => Duplex }> {
  const tunnel = await openTunnel(options);
  const connections: Duplex[] = [];
  t.after(() => {
    for (const connection of connections) {
      // Teardown only: a connection the test left open may still report the tunnel's close.
      connection.on("error", () => undefined);
      connection.destroy();
    }
    tunnel.close();
  });
  const connect = (port: number): Duplex => {
    const connection = tunnel.connect(port);
    connections.push(connection);
    return connection;
  };
  return { tunnel, connect };
}

function codeOf(error: unknown): string | undefined {
  return isTunnelError(error) ? error.code : undefined;
}

for (const protocol of PROTOCOLS) {
  describe(`openTunnel over ${WIRE_PROTOCOL[protocol]} (protocol: '${protocol}')`, () => {
    test("echoes 64 MiB of random bytes each way through one connection with equal SHA-256", { timeout: 180_000 }, async (t) => {
      const pod = await echoPod(t);
      const { tunnel, connect } = await openTestTunnel(t, {
        kubeConfig: testCluster().admin,
        namespace: pod.namespace,
        pod: pod.name,
        protocol,
      });
      assert.equal(tunnel.protocol, WIRE_PROTOCOL[protocol]);
      const connection = connect(ECHO_PORT);
      const result = await streamRandomEcho(connection, 64 * MiB);
      connection.destroy();
      t.diagnostic(
        `${protocol}: 64 MiB each way in ${result.elapsedMs.toFixed(0)} ms (${((64 * 1000) / result.elapsedMs).toFixed(1)} MiB/s each way); ` +
          `at most ${(result.maxInFlightBytes / MiB).toFixed(1)} MiB written but not yet echoed`,
      );
      assert.equal(result.bytes, 64 * MiB);
      assert.equal(result.receivedSha256, result.sentSha256);
      assert.equal(tunnel.counters.bytesOut, 64 * MiB);
      assert.equal(tunnel.counters.bytesIn, 64 * MiB);
      assert.equal(pod.accepted(), 1);
      assert.deepEqual(tunnel.state, { kind: "open" });
    });

    const concurrent = protocol === "Tunnel" ? 500 : 100;
    const what = protocol === "Tunnel" ? "on one SPDY tunnel" : "each on its own WebSocket";
    test(`carries ${concurrent} concurrent connections ${what}, 64 KiB each way, every byte checked`, { timeout: 180_000 }, async (t) => {
      const pod = await echoPod(t);
      const { tunnel, connect } = await openTestTunnel(t, {
        kubeConfig: testCluster().admin,
        namespace: pod.namespace,
        pod: pod.name,
        protocol,
      });
      const payloadBytes = 64 * 1024;
      const started = performance.now();
      let peakActive = 0;
      const results = await Promise.allSettled(
        Array.from({ length: concurrent }, async () => {
          const payload = randomBytes(payloadBytes);
          const connection = connect(ECHO_PORT);
          peakActive = Math.max(peakActive, tunnel.counters.activeConnections);
          try {
            const echoed = await echoOnce(connection, payload, 120_000);
            return echoed.equals(payload);
          } finally {
            connection.destroy();
          }
        }),
      );
      const elapsed = performance.now() - started;
      t.diagnostic(`${protocol}: ${concurrent} × 64 KiB echoed in ${elapsed.toFixed(0)} ms; peak active ${peakActive}`);
      const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${concurrent} connections failed`);
      const mismatched = results.filter((r) => r.status === "fulfilled" && !r.value).length;
      assert.equal(mismatched, 0, `${mismatched} connections echoed different bytes`);
      assert.equal(peakActive, concurrent, "every connection was open at the same time");
      assert.equal(tunnel.counters.totalConnections, concurrent);
      assert.equal(tunnel.counters.bytesOut, concurrent * payloadBytes);
      assert.equal(tunnel.counters.bytesIn, concurrent * payloadBytes);
      assert.equal(pod.accepted(), concurrent);
      await eventually(() => (tunnel.counters.activeConnections === 0 ? true : undefined), 5_000, "activeConnections back to 0");
      assert.deepEqual(tunnel.state, { kind: "open" });
    });

    test("a refused target port fails only its own connection with PF_ERR_PORT_FORWARD; the tunnel keeps serving another port of the same pod", async (t) => {
      const refused = await refusedPort();
      const pod = await echoPod(t, [{ podPort: REFUSED_PORT, port: refused }]);
      const { tunnel, connect } = await openTestTunnel(t, {
        kubeConfig: testCluster().admin,
        namespace: pod.namespace,
        pod: pod.name,
        protocol,
      });
      const working = connect(ECHO_PORT);
      const before = randomBytes(4096);
      assert.ok((await echoOnce(working, before)).equals(before));

      const failing = connect(REFUSED_PORT);
      failing.write("hello?");
      const error = await connectionError(failing);
      assert.equal(codeOf(error), TunnelErrorCode.PortForward, String(error));
      assert.match(error.message, new RegExp(`port ${REFUSED_PORT}\\b`));
      assert.match(error.message, /connection refused/);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${refused}`), "the runtime text names the backend it dialled");

      assert.deepEqual(tunnel.state, { kind: "open" });
      const after = randomBytes(4096);
      assert.ok((await echoOnce(working, after)).equals(after), "the connection opened before still works");
      const fresh = connect(ECHO_PORT);
      const third = randomBytes(4096);
      assert.ok((await echoOnce(fresh, third)).equals(third), "a new connection works");
      working.destroy();
      fresh.destroy();
      assert.equal(pod.accepted(), 2);
    });

    test("keepalive every 1 s is answered: after 3.5 s idle (pong timeout 500 ms) the tunnel is open and carries bytes", async (t) => {
      const pod = await echoPod(t);
      const tap = webSocketTap();
      const { tunnel, connect } = await openTestTunnel(t, {
        kubeConfig: testCluster().admin,
        namespace: pod.namespace,
        pod: pod.name,
        protocol,
        keepaliveIntervalMs: 1000,
        keepaliveTimeoutMs: 500,
        dial: tap.dial,
      });
      // Legacy has no shared socket: keepalive runs per connection WebSocket, so hold one open.
      const connection = connect(ECHO_PORT);
      const first = randomBytes(1024);
      assert.ok((await echoOnce(connection, first)).equals(first));
      await sleep(3_500);
      assert.deepEqual(tunnel.state, { kind: "open" });
      assert.ok(tap.webSocketPongs() >= 3, `WebSocket pongs: ${tap.webSocketPongs()}`);
      if (protocol === "Tunnel") {
        // Our PINGs carry odd ids; the runtime (KWOK's spdystream) echoes them through the API server.
        const ids = tap.spdyPingIds();
        assert.ok(ids.length >= 3, `SPDY PING echoes: ${JSON.stringify(ids)}`);
        assert.deepEqual(ids.slice(0, 3), [1, 3, 5]);
      }
      const second = randomBytes(1024);
      assert.ok((await echoOnce(connection, second)).equals(second));
      connection.destroy();
    });

    test("the unprivileged user gets PF_ERR_FORBIDDEN naming get/create on pods/portforward, and succeeds once a Role grants them", async (t) => {
      const cluster = testCluster();
      const pod = await echoPod(t);
      const options = { kubeConfig: cluster.unprivileged, namespace: pod.namespace, pod: pod.name, protocol } as const;
      const forbidden = await refusalOf(options);
      assert.equal(codeOf(forbidden), TunnelErrorCode.Forbidden, String(forbidden));
      assert.match(forbidden.message, /`get` and `create` on `pods\/portforward`/);
      assert.match(forbidden.message, new RegExp(`in namespace ${pod.namespace}\\b`));
      assert.match(forbidden.message, /User "tester" cannot get resource "pods\/portforward"/, "the API server reason is kept");
      assert.equal(closeReasonFor(isTunnelError(forbidden) ? forbidden : null).reason, "Forbidden");
      assert.equal(pod.accepted(), 0);

      const rbac = cluster.admin.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({
        namespace: pod.namespace,
        body: {
          metadata: { name: "port-forward" },
          rules: [
            { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] },
            { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
          ],
        },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: pod.namespace,
        body: {
          metadata: { name: "port-forward" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "port-forward" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "tester" }],
        },
      });
      // The authorizer's RBAC cache catches up within moments of the binding.
      const payload = randomBytes(2048);
      const echoed = await eventually(
        async () => {
          const tunnel = await openTunnel(options);
          const connection = tunnel.connect(ECHO_PORT);
          try {
            return await echoOnce(connection, payload, 10_000);
          } finally {
            connection.destroy();
            tunnel.close();
          }
        },
        10_000,
        "port-forward as tester after the RoleBinding",
      );
      assert.ok(echoed.equals(payload));
    });
  });
}

/** The coded error with which `options` are refused: at openTunnel, or (Legacy) at the first connection. */
async function refusalOf(options: OpenTunnelOptions): Promise<Error> {
  let tunnel: Tunnel;
  try {
    tunnel = await openTunnel(options);
  } catch (error) {
    assert.notEqual(options.protocol, "Legacy", "Legacy dials lazily, so openTunnel itself cannot be refused");
    return error as Error;
  }
  assert.equal(options.protocol, "Legacy", `openTunnel(${options.protocol}) should have been refused`);
  const error = await connectionError(tunnel.connect(ECHO_PORT));
  const closed = await tunnel.closed;
  assert.equal(closed.error, error, "a refused dial closes the legacy tunnel with that same error");
  return error;
}

describe("pod deletion against kube-apiserver v1.36 + KWOK", () => {
  test("Tunnel: deleting the pod does NOT end an established SPDY tunnel (KWOK keeps forwarding, even new connections); only a new openTunnel fails with PF_ERR_POD_NOT_FOUND → PodGone", async (t) => {
    // The API server checks the pod only at upgrade time, and KWOK's forwarder resolves ports
    // through its PortForward object, which outlives the Pod. So the gateway has to learn of a
    // deleted pod from a watch, not from the tunnel. (A real runtime would tear the sandbox
    // down; what it does to an established stream is not covered here.)
    const pod = await echoPod(t);
    const { tunnel, connect } = await openTestTunnel(t, {
      kubeConfig: testCluster().admin,
      namespace: pod.namespace,
      pod: pod.name,
      protocol: "Tunnel",
    });
    const before = connect(ECHO_PORT);
    assert.ok((await echoOnce(before, Buffer.from("before"))).equals(Buffer.from("before")));
    await deletePodAndWait(pod);
    await sleep(2_000);
    assert.deepEqual(tunnel.state, { kind: "open" }, "the tunnel is still open 2 s after the pod is gone");
    assert.ok((await echoOnce(before, Buffer.from("still"))).equals(Buffer.from("still")), "the old connection still flows");
    const after = connect(ECHO_PORT);
    assert.ok(
      (await echoOnce(after, Buffer.from("after"))).equals(Buffer.from("after")),
      "a new connection on the old tunnel still reaches the backend",
    );
    before.destroy();
    after.destroy();

    const reopen = await openTunnel({ kubeConfig: testCluster().admin, namespace: pod.namespace, pod: pod.name, protocol: "Tunnel" }).then(
      () => assert.fail("openTunnel to a deleted pod succeeded"),
      (error: unknown) => error,
    );
    assert.equal(codeOf(reopen), TunnelErrorCode.PodNotFound, String(reopen));
    assert.match(String(reopen), new RegExp(`pods "${pod.name}" not found`));
    assert.equal(closeReasonFor(isTunnelError(reopen) ? reopen : null).reason, "PodGone");
  });

  test("Legacy: deleting the pod leaves open connections flowing; the next connection fails with PF_ERR_POD_NOT_FOUND and closes the tunnel with PodGone", async (t) => {
    const pod = await echoPod(t);
    const { tunnel, connect } = await openTestTunnel(t, {
      kubeConfig: testCluster().admin,
      namespace: pod.namespace,
      pod: pod.name,
      protocol: "Legacy",
    });
    const before = connect(ECHO_PORT);
    assert.ok((await echoOnce(before, Buffer.from("before"))).equals(Buffer.from("before")));
    await deletePodAndWait(pod);
    await sleep(2_000);
    assert.deepEqual(tunnel.state, { kind: "open" });
    assert.ok((await echoOnce(before, Buffer.from("still"))).equals(Buffer.from("still")), "the open connection still flows");
    const beforeError = connectionError(before);

    const after = connect(ECHO_PORT);
    const error = await connectionError(after);
    assert.equal(codeOf(error), TunnelErrorCode.PodNotFound, String(error));
    const closed = await tunnel.closed;
    assert.equal(closed.reason, "PodGone");
    assert.equal(closed.error, error);
    // By the LegacyTunnel contract a tunnel-fatal dial error ends the other connections too.
    assert.equal(codeOf(await beforeError), TunnelErrorCode.TunnelClosed);
  });
});

async function deletePodAndWait(pod: EchoPod): Promise<void> {
  const core = testCluster().admin.makeApiClient(CoreV1Api);
  await core.deleteNamespacedPod({ namespace: pod.namespace, name: pod.name });
  await eventually(
    () =>
      core.readNamespacedPod({ namespace: pod.namespace, name: pod.name }).then(
        () => undefined,
        (error: unknown) => ((error as { code?: number }).code === 404 ? true : Promise.reject(error)),
      ),
    30_000,
    "pod removal",
  );
}

describe("protocol fallback against an API server with PortForwardWebsockets=false", () => {
  test("'Auto' falls back to v4.channel.k8s.io and carries bytes; 'Tunnel' fails with PF_ERR_UPGRADE_FAILED (HTTP 400)", async (t) => {
    const kubeConfig = await extraApiServer("PortForwardWebsockets=false");
    const pod = await echoPod(t);
    const target = { kubeConfig, namespace: pod.namespace, pod: pod.name };

    const refused = await openTunnel({ ...target, protocol: "Tunnel" }).then(
      () => assert.fail("protocol 'Tunnel' was accepted by an API server without PortForwardWebsockets"),
      (error: unknown) => error,
    );
    assert.equal(codeOf(refused), TunnelErrorCode.UpgradeFailed, String(refused));
    assert.equal((refused as { status?: number }).status, 400);
    // Without the gate the upgrade goes straight to the node as a v4 WebSocket, which needs ?ports.
    assert.match(String(refused), /query parameter "port" is required/);
    assert.equal(closeReasonFor(isTunnelError(refused) ? refused : null).reason, "ProtocolUnsupported");

    const { tunnel, connect } = await openTestTunnel(t, { ...target, protocol: "Auto" });
    assert.equal(tunnel.protocol, V4_CHANNEL_PROTOCOL);
    const connection = connect(ECHO_PORT);
    const payload = randomBytes(256 * 1024);
    assert.ok((await echoOnce(connection, payload)).equals(payload));
    connection.destroy();
  });

  test("'Auto' against the default API server stays on the SPDY tunnel", async (t) => {
    const pod = await echoPod(t);
    const { tunnel } = await openTestTunnel(t, {
      kubeConfig: testCluster().admin,
      namespace: pod.namespace,
      pod: pod.name,
      protocol: "Auto",
    });
    assert.equal(tunnel.protocol, TUNNEL_SUBPROTOCOL);
  });
});

describe("interop with kubectl port-forward", () => {
  for (const websockets of [true, false]) {
    test(`kubectl port-forward (${websockets ? "WebSocket tunnel" : "SPDY upgrade"}) and our tunnel reach the same pod at the same time`, async (t) => {
      const cluster = testCluster();
      const pod = await echoPod(t);
      const forward = await startKubectlPortForward({
        kubectl: cluster.kubectl,
        kubeconfig: cluster.state.kubeconfig,
        namespace: pod.namespace,
        resource: `pod/${pod.name}`,
        remotePort: ECHO_PORT,
        websockets,
      });
      t.after(() => forward.stop());
      const { connect } = await openTestTunnel(t, {
        kubeConfig: cluster.admin,
        namespace: pod.namespace,
        pod: pod.name,
        protocol: "Tunnel",
      });
      const ours = connect(ECHO_PORT);
      const theirs = connectTcp({ host: "127.0.0.1", port: forward.localPort });
      t.after(() => theirs.destroy());
      // Two rounds on both, so both connections are provably open at once.
      for (let round = 0; round < 2; round++) {
        const a = randomBytes(128 * 1024);
        const b = randomBytes(128 * 1024);
        const [echoedA, echoedB] = await Promise.all([echoOnce(ours, a), echoOnce(theirs, b)]);
        assert.ok(echoedA.equals(a), `round ${round}: our tunnel`);
        assert.ok(echoedB.equals(b), `round ${round}: kubectl`);
      }
      assert.equal(pod.accepted(), 2);
      ours.destroy();
    });
  }
});
