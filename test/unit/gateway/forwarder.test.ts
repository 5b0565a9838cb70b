// Forwarder component tests: real loopback sockets on the client side, in-memory tunnels on the
// pod side (test/support/memory-tunnel.ts), and a fake clock for every wait the forwarder makes,
// so "served as soon as a tunnel opens" means with no time passing at all.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, it } from "node:test";
import type { LoadBalancing } from "../../../src/api/spec.ts";
import {
  type ConnectionRecord,
  Forwarder,
  type ForwarderOptions,
  type ForwarderSpec,
  type ForwarderTarget,
} from "../../../src/gateway/forwarder.ts";
import type { GatewayMetrics } from "../../../src/gateway/gateway-metrics.ts";
import { Logger } from "../../../src/observability/log.ts";
import { type Clock, systemClock } from "../../../src/runtime/clock.ts";
import { TunnelError, TunnelErrorCode } from "../../../src/tunnel/tunnel-error.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";
import { type PodServer, TunnelDialer } from "../../support/memory-tunnel.ts";

const HOST = "127.0.0.1";
const PORT = 80;
const POD_PORT = 8080;

function target(pod: string, ready = true): ForwarderTarget {
  return { pod, ready, ports: [{ port: PORT, targetPort: POD_PORT }] };
}

function specOf(targets: ForwarderTarget[], loadBalancing: LoadBalancing = "RoundRobin"): ForwarderSpec {
  return { targets, bindings: [{ port: PORT, listenPort: 0 }], loadBalancing };
}

/** Every GatewayMetrics call, as `name:arg,arg`. */
function recordingMetrics(): { metrics: GatewayMetrics; calls: string[] } {
  const calls: string[] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) => {
      calls.push(`${name}:${args.join(",")}`);
    };
  const metrics: GatewayMetrics = {
    tunnelUp: record("tunnelUp"),
    connectionOpened: record("connectionOpened"),
    connectionClosed: record("connectionClosed"),
    connectionDenied: record("connectionDenied"),
    bytes: () => undefined,
    dialed: record("dialed"),
    reconnect: record("reconnect"),
    listenFailed: record("listenFailed"),
    listenerError: record("listenerError"),
    idleTunnelsClosed: record("idleTunnelsClosed"),
    portForwards: record("portForwards"),
  };
  return { metrics, calls };
}

interface Harness {
  readonly forwarder: Forwarder;
  readonly clock: FakeClock;
  readonly dialer: TunnelDialer;
  readonly logs: Record<string, unknown>[];
  readonly records: ConnectionRecord[];
  readonly metricCalls: string[];
  /** The port the listener for spec port 80 is bound to. */
  port(): number;
}

const open: Forwarder[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((f) => f.close()));
});

function startForwarder(
  options: { autoOpen?: boolean; serve?: PodServer; clock?: Clock } & Partial<Pick<ForwarderOptions, "connectWaitMs">> = {},
): Harness {
  const clock = new FakeClock();
  const dialer = new TunnelDialer({ autoOpen: options.autoOpen ?? true, ...(options.serve ? { serve: options.serve } : {}) });
  const logs: Record<string, unknown>[] = [];
  const records: ConnectionRecord[] = [];
  const { metrics, calls } = recordingMetrics();
  const forwarder = new Forwarder({
    name: "ns/web",
    listenHost: HOST,
    openTunnel: dialer.open,
    log: new Logger({ level: "debug", sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
    metrics,
    onConnectionEnded: (record) => records.push(record),
    clock: options.clock ?? clock,
    halfCloseGraceMs: 1_000,
    ...(options.connectWaitMs === undefined ? {} : { connectWaitMs: options.connectWaitMs }),
  });
  open.push(forwarder);
  return {
    forwarder,
    clock,
    dialer,
    logs,
    records,
    metricCalls: calls,
    port: () => {
      const port = forwarder.snapshot().listening.get(PORT);
      assert.ok(port !== undefined, "the forwarder listens on port 80");
      return port;
    },
  };
}

/** Lets real I/O run until `condition` holds (bounded; fails the test otherwise). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function connectClient(port: number): Promise<Socket> {
  const socket = connect({ host: HOST, port, noDelay: true });
  sockets.push(socket);
  await once(socket, "connect");
  return socket;
}

/** Writes `bytes` and reads until as many came back; resolves with what came back. */
async function roundTrip(socket: Socket, bytes: Buffer): Promise<Buffer> {
  const received: Buffer[] = [];
  let length = 0;
  const done = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      received.push(chunk);
      length += chunk.length;
      if (length >= bytes.length) {
        socket.off("data", onData);
        resolve();
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed after ${length} of ${bytes.length} bytes`)));
  });
  socket.write(bytes);
  await done;
  return Buffer.concat(received);
}

/** A client socket, not waiting for the connect (the forwarder may reset it before that is seen). */
function dialClient(port: number): Socket {
  const socket = connect({ host: HOST, port, noDelay: true });
  sockets.push(socket);
  return socket;
}

/** Resolves with the error code when the socket closes, "" for a clean close. */
function closedWith(socket: Socket): Promise<string> {
  let code = "";
  socket.on("error", (error: NodeJS.ErrnoException) => {
    code = error.code ?? error.message;
  });
  socket.resume();
  return new Promise((resolve) => {
    if (socket.destroyed) resolve(code);
    else socket.once("close", () => resolve(code));
  });
}

describe("Forwarder", () => {
  it("listens on update and carries bytes both ways, in order, through the ready target's tunnel", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    assert.equal(h.forwarder.snapshot().serving, true);
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, ["web-0"]);

    const client = await connectClient(h.port());
    const payload = randomBytes(1024 * 1024);
    const echoed = await roundTrip(client, payload);
    assert.ok(echoed.equals(payload), "the pod side got every byte in order and its reply came back in order");
    assert.deepEqual(h.dialer.tunnelTo("web-0").connectedPorts, [POD_PORT]);

    client.end();
    await once(client, "close");
    await until(() => h.records.length === 1, "the connection record");
    assert.equal(h.records[0]?.result, "completed");
    assert.equal(h.records[0]?.targetPod, "web-0");
    assert.equal(h.records[0]?.bytesUp, payload.length);
    assert.equal(h.records[0]?.bytesDown, payload.length);
    assert.ok(h.metricCalls.includes("connectionClosed:ns/web,completed"));
  });

  it("serves a waiting connection as soon as its target's tunnel opens, with no time passing", async () => {
    const h = startForwarder({ autoOpen: false });
    await h.forwarder.update(specOf([target("web-0")]));
    const client = await connectClient(h.port());
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await flush();
    const before = h.clock.now();

    h.dialer.latest("web-0").succeed();
    const echoed = await roundTrip(client, Buffer.from("hello"));
    assert.equal(echoed.toString(), "hello");
    assert.equal(h.clock.now(), before, "no fake time passed: the connection was woken, not polled");
  });

  it("wakes a waiting connection when update() adds a ready target, with no time passing", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([]));
    const client = await connectClient(h.port());
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await flush();
    const before = h.clock.now();

    await h.forwarder.update(specOf([target("web-0")]));
    const echoed = await roundTrip(client, Buffer.from("woken by update"));
    assert.equal(echoed.toString(), "woken by update");
    assert.equal(h.clock.now(), before);
  });

  it("wakes a waiting connection when a target whose tunnel is already open becomes ready", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    await h.forwarder.update(specOf([target("web-0", false)]));
    assert.equal(h.dialer.tunnelTo("web-0").state.kind, "open", "a target that stops being ready keeps its tunnel");
    const client = await connectClient(h.port());
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await flush();

    await h.forwarder.update(specOf([target("web-0", true)]));
    assert.equal((await roundTrip(client, Buffer.from("ready again"))).toString(), "ready again");
    assert.equal(h.dialer.attempts.length, 1, "the same tunnel served it");
  });

  it("keeps the event loop turning while a connection waits behind a not-ready target with an open tunnel", async () => {
    // A terminating pod is a target with ready=false whose tunnel stays open (its connections go
    // on). A connection waiting for a tunnel then must not spin: the failover e2e lost 10 s per
    // such connection when it did (the whole gateway stalled for the connect wait).
    const h = startForwarder({ clock: systemClock, connectWaitMs: 2_000 });
    await h.forwarder.update(specOf([target("old")]));
    await until(() => h.forwarder.snapshot().connectedTargets.length === 1, "the old pod's tunnel");
    await h.forwarder.update(specOf([target("old", false)]));
    const client = await connectClient(h.port());
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");

    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1_000, `a 20 ms timer fired after ${elapsed.toFixed(0)} ms while a connection was waiting`);

    await h.forwarder.update(specOf([target("old", false), target("new")]));
    assert.equal((await roundTrip(client, Buffer.from("via new"))).toString(), "via new");
    assert.deepEqual(h.dialer.tunnelTo("old").connectedPorts, []);
    assert.deepEqual(h.dialer.tunnelTo("new").connectedPorts, [POD_PORT]);
  });

  it("fails over: a connection that arrived while the only pod was terminating goes to the replacement as soon as its tunnel opens", async () => {
    const h = startForwarder({ autoOpen: false });
    await h.forwarder.update(specOf([target("app-old")]));
    await flush();
    h.dialer.latest("app-old").succeed();
    await flush();
    await h.forwarder.update(specOf([target("app-old", false)]));
    const client = await connectClient(h.port());
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await flush();
    const before = h.clock.now();

    await h.forwarder.update(specOf([]));
    await h.forwarder.update(specOf([target("app-new")]));
    await flush();
    assert.equal(h.dialer.tunnelTo("app-old").state.kind, "closed");
    h.dialer.latest("app-new").succeed();
    assert.equal((await roundTrip(client, Buffer.from("replacement"))).toString(), "replacement");
    assert.equal(h.clock.now(), before, "served without any time passing");
    assert.deepEqual(h.dialer.tunnelTo("app-new").connectedPorts, [POD_PORT]);
  });

  it("resets a connection that waited the whole connect wait, and reports it as no_target", async () => {
    const h = startForwarder({ autoOpen: false, connectWaitMs: 10_000 });
    await h.forwarder.update(specOf([target("web-0")]));
    const client = await connectClient(h.port());
    const closed = closedWith(client);
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await h.clock.advance(9_999);
    assert.equal(client.destroyed, false, "still waiting just before the connect wait ends");
    assert.equal(h.records.length, 0);
    await h.clock.advance(1);
    assert.equal(await closed, "ECONNRESET");
    await until(() => h.records.length === 1, "the connection record");
    assert.equal(h.records[0]?.result, "no_target");
    assert.equal(h.records[0]?.targetPod, undefined);
    assert.ok(h.metricCalls.includes("connectionClosed:ns/web,no_target"));
    assert.equal(h.forwarder.snapshot().activeConnections, 0);
  });

  it("keeps the listener and a neighbour connection going when one client connection breaks", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    const broken = await connectClient(h.port());
    const neighbour = await connectClient(h.port());
    assert.equal((await roundTrip(broken, Buffer.from("one"))).toString(), "one");
    assert.equal((await roundTrip(neighbour, Buffer.from("two"))).toString(), "two");

    broken.resetAndDestroy();
    await until(() => h.records.length === 1, "the broken connection's record");
    assert.notEqual(h.records[0]?.result, "upstream_error");
    assert.equal((await roundTrip(neighbour, Buffer.from("still here"))).toString(), "still here");
    const later = await connectClient(h.port());
    assert.equal((await roundTrip(later, Buffer.from("new one"))).toString(), "new one");
    assert.equal(h.forwarder.snapshot().serving, true);
    assert.equal(h.dialer.tunnelTo("web-0").state.kind, "open");
    assert.equal(h.dialer.attempts.length, 1);
  });

  it("resets the client and reports the pod's refusal when the pod does not listen on the port", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    h.dialer.tunnelTo("web-0").refuse(POD_PORT);
    assert.equal(await closedWith(dialClient(h.port())), "ECONNRESET");
    await until(() => h.records.length === 1, "the connection record");
    assert.equal(h.records[0]?.result, "upstream_error");
    assert.match(h.forwarder.snapshot().lastConnectionError ?? "", /^pod web-0: .*connection refused/);
    assert.equal(h.dialer.tunnelTo("web-0").state.kind, "open", "a refused connection does not close the tunnel");
  });

  it("closes the tunnel of a pod that is no longer a target, and keeps one that only stopped being ready", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("a"), target("b")]));
    await flush();
    await h.forwarder.update(specOf([target("a", false)]));
    await flush();
    assert.equal(h.dialer.tunnelTo("a").state.kind, "open");
    assert.equal(h.dialer.tunnelTo("b").state.kind, "closed");
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, []);
  });

  it("says a first dial is pending until the tunnel opens or fails, and not again after a failure", async () => {
    const h = startForwarder({ autoOpen: false });
    assert.equal(h.forwarder.snapshot().firstDialPending, false, "no targets, no dial");
    await h.forwarder.update(specOf([target("a")]));
    assert.equal(h.forwarder.snapshot().firstDialPending, true);
    h.dialer.latest("a").succeed();
    await flush();
    assert.equal(h.forwarder.snapshot().firstDialPending, false, "open");

    const g = startForwarder({ autoOpen: false });
    await g.forwarder.update(specOf([target("b")]));
    g.dialer.latest("b").fail(new TunnelError(TunnelErrorCode.Forbidden, "pods/portforward is forbidden"));
    await flush();
    assert.equal(g.forwarder.snapshot().firstDialPending, false, "failed: the failure is the news");
    await g.clock.advance(30_000);
    await flush();
    assert.equal(g.dialer.dialsTo("b").length, 2, "redialled after the backoff");
    assert.equal(g.forwarder.snapshot().firstDialPending, false, "a redial is not a first dial");
  });

  it("resets a waiting connection at once when the forwarder closes", async () => {
    const h = startForwarder({ autoOpen: false });
    await h.forwarder.update(specOf([target("web-0")]));
    const client = await connectClient(h.port());
    const closed = closedWith(client);
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await h.forwarder.close(5_000);
    assert.equal(await closed, "ECONNRESET");
    assert.equal(h.records[0]?.result, "no_target");
  });

  it("resets a waiting connection at once when its binding leaves the spec (suspend), with no time passing", async () => {
    const h = startForwarder({ autoOpen: false, connectWaitMs: 10_000 });
    await h.forwarder.update(specOf([target("web-0")]));
    const client = await connectClient(h.port());
    const closed = closedWith(client);
    await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
    await h.forwarder.update({ targets: [], bindings: [], loadBalancing: "RoundRobin" });
    assert.equal(await closed, "ECONNRESET");
    await until(() => h.records.length === 1, "the connection record");
    assert.equal(h.records[0]?.result, "no_target");
  });

  describe("load balancing", () => {
    async function pickedPods(policy: LoadBalancing, count: number): Promise<string[]> {
      const h = startForwarder();
      await h.forwarder.update(specOf([target("c"), target("a"), target("b")], policy));
      await flush();
      for (let i = 0; i < count; i++) {
        const client = await connectClient(h.port());
        await roundTrip(client, Buffer.from("x"));
        client.end();
        await once(client, "close");
        await until(() => h.records.length === i + 1, "the connection record");
      }
      return h.records.map((r) => r.targetPod ?? "none");
    }

    it("RoundRobin rotates over the ready pods by name", async () => {
      assert.deepEqual(await pickedPods("RoundRobin", 6), ["a", "b", "c", "a", "b", "c"]);
    });

    it("First sends every connection to the first ready pod by name", async () => {
      assert.deepEqual(await pickedPods("First", 4), ["a", "a", "a", "a"]);
    });

    it("First moves to the next pod when the first stops being ready", async () => {
      const h = startForwarder();
      await h.forwarder.update(specOf([target("a"), target("b")], "First"));
      await flush();
      await h.forwarder.update(specOf([target("a", false), target("b")], "First"));
      const client = await connectClient(h.port());
      await roundTrip(client, Buffer.from("x"));
      assert.deepEqual(h.dialer.tunnelTo("b").connectedPorts, [POD_PORT]);
      assert.deepEqual(h.dialer.tunnelTo("a").connectedPorts, []);
    });

    it("LeastConnections picks the pod with the fewest open connections", async () => {
      const h = startForwarder();
      await h.forwarder.update(specOf([target("a"), target("b"), target("c")], "LeastConnections"));
      await flush();
      const held: Socket[] = [];
      for (let i = 0; i < 3; i++) {
        const client = await connectClient(h.port());
        await roundTrip(client, Buffer.from("x"));
        held.push(client);
      }
      const perPod = () => ["a", "b", "c"].map((pod) => h.dialer.tunnelTo(pod).counters.activeConnections);
      assert.deepEqual(perPod(), [1, 1, 1]);
      // End the connection that went to b: b now has the fewest, so the next one goes to b.
      const toB = held[1]!;
      toB.end();
      await once(toB, "close");
      await until(() => perPod()[1] === 0, "b's connection to end");
      const next = await connectClient(h.port());
      await roundTrip(next, Buffer.from("x"));
      assert.deepEqual(perPod(), [1, 1, 1], "the new connection went to b");
      assert.deepEqual(h.dialer.tunnelTo("b").connectedPorts, [POD_PORT, POD_PORT]);
    });
  });

  describe("bindings pinned to a pod (per-pod Services)", () => {
    /** A port free right now on HOST, for a pinned binding (listening only reports unpinned ones). */
    async function freePort(): Promise<number> {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
      const address = server.address();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return typeof address === "object" && address !== null ? address.port : 0;
    }

    async function pinnedSpec(
      targets: ForwarderTarget[],
      pods: readonly string[],
    ): Promise<{ spec: ForwarderSpec; ports: Map<string, number> }> {
      const ports = new Map<string, number>();
      for (const pod of pods) ports.set(pod, await freePort());
      const pinned = pods.map((pod) => ({ port: PORT, listenPort: ports.get(pod)!, pod }));
      return { spec: { targets, bindings: [{ port: PORT, listenPort: 0 }, ...pinned], loadBalancing: "RoundRobin" }, ports };
    }

    it("sends every connection of a pinned binding to its pod, while the unpinned one still balances", async () => {
      const h = startForwarder();
      const { spec, ports } = await pinnedSpec([target("a"), target("b")], ["a", "b"]);
      await h.forwarder.update(spec);
      await flush();
      assert.equal(h.forwarder.snapshot().serving, true);
      for (let i = 0; i < 3; i++) {
        const client = await connectClient(ports.get("b")!);
        assert.equal((await roundTrip(client, Buffer.from("to b"))).toString(), "to b");
      }
      assert.deepEqual(h.dialer.tunnelTo("b").connectedPorts, [POD_PORT, POD_PORT, POD_PORT]);
      assert.deepEqual(h.dialer.tunnelTo("a").connectedPorts, []);
      for (let i = 0; i < 2; i++) await roundTrip(await connectClient(h.port()), Buffer.from("x"));
      assert.equal(h.dialer.tunnelTo("a").connectedPorts.length, 1, "round robin over both pods, unaffected by the pinned connections");
    });

    it("holds a pinned connection while its pod is not ready, even with other pods ready, then resets it", async () => {
      const h = startForwarder({ connectWaitMs: 10_000 });
      const { spec, ports } = await pinnedSpec([target("a", false), target("b")], ["a"]);
      await h.forwarder.update(spec);
      await flush();
      const client = await connectClient(ports.get("a")!);
      const closed = closedWith(client);
      await until(() => h.forwarder.snapshot().activeConnections === 1, "the connection to be accepted");
      await h.clock.advance(10_000);
      assert.equal(await closed, "ECONNRESET");
      assert.deepEqual(h.dialer.tunnelTo("b").connectedPorts, [], "never sent to another pod");
      await until(() => h.records.length === 1, "the connection record");
      assert.equal(h.records[0]?.result, "no_target");
    });

    it("stops listening on a pinned binding dropped from the spec, keeping the others", async () => {
      const h = startForwarder();
      const { spec, ports } = await pinnedSpec([target("a"), target("b")], ["a", "b"]);
      await h.forwarder.update(spec);
      await h.forwarder.update({ ...spec, bindings: spec.bindings.filter((b) => b.pod !== "a") });
      const refused = closedWith(dialClient(ports.get("a")!));
      assert.equal(await refused, "ECONNREFUSED");
      assert.equal((await roundTrip(await connectClient(ports.get("b")!), Buffer.from("b"))).toString(), "b");
    });
  });

  describe("listeners", () => {
    it("records a listen failure (EADDRINUSE) as a listen error, not serving", async () => {
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, HOST, resolve));
      const taken = (squatter.address() as { port: number }).port;
      try {
        const h = startForwarder();
        await h.forwarder.update({ targets: [target("web-0")], bindings: [{ port: PORT, listenPort: taken }], loadBalancing: "First" });
        const snapshot = h.forwarder.snapshot();
        assert.equal(snapshot.serving, false);
        assert.deepEqual(snapshot.listenErrors, [`cannot listen on ${HOST}:${taken}: EADDRINUSE`]);
        assert.ok(h.metricCalls.includes("listenFailed:ns/web"));
        assert.ok(h.logs.some((l) => l.msg === "Failed to listen"));
      } finally {
        squatter.close();
      }
    });

    it("treats an error on a live listener as a listener error, not as a failure to listen", async () => {
      const h = startForwarder();
      const server = await capturingListenServer(() => h.forwarder.update(specOf([target("web-0")])));
      await flush();
      assert.equal(h.forwarder.snapshot().serving, true);

      // What net.Server emits when accept() fails on a live listener (e.g. out of descriptors).
      server.emit("error", Object.assign(new Error("accept EMFILE"), { code: "EMFILE", syscall: "accept" }));

      const snapshot = h.forwarder.snapshot();
      assert.deepEqual(snapshot.listenErrors, [], "no 'cannot listen' error for a listener that is listening");
      assert.equal(snapshot.serving, true);
      assert.ok(!h.metricCalls.includes("listenFailed:ns/web"), "not counted as a listen failure");
      assert.ok(!h.logs.some((l) => l.msg === "Failed to listen"));
      assert.ok(h.logs.some((l) => l.msg === "Listener error" && l.level === "error"));
      assert.ok(h.metricCalls.includes("listenerError:ns/web"));
      const client = await connectClient(h.port());
      assert.equal((await roundTrip(client, Buffer.from("still serving"))).toString(), "still serving");
    });
  });
});

describe("Forwarder without keepTunnels (a gateway replica standing by)", () => {
  const IDLE_MS = 60_000;
  const standby = (targets: ForwarderTarget[]): ForwarderSpec => ({ ...specOf(targets), keepTunnels: false });

  it("listens but opens no tunnel until a connection arrives, then serves it through a tunnel opened for it", async () => {
    const h = startForwarder();
    await h.forwarder.update(standby([target("web-0"), target("web-1")]));
    await flush();
    assert.equal(h.forwarder.snapshot().serving, true, "the listener is open");
    assert.equal(h.forwarder.snapshot().warm, false);
    assert.equal(h.dialer.attempts.length, 0, "no tunnel is dialled for a PortForward nobody uses here");

    const client = await connectClient(h.port());
    assert.equal((await roundTrip(client, Buffer.from("cold start"))).toString(), "cold start");
    assert.equal(h.forwarder.snapshot().warm, true);
    assert.deepEqual(h.dialer.attempts.map((a) => a.pod).sort(), ["web-0", "web-1"], "a tunnel to every ready target");
  });

  it("closes the tunnels once no connection was open for the idle period, and opens them again for the next one", async () => {
    const h = startForwarder();
    await h.forwarder.update(standby([target("web-0")]));
    const client = await connectClient(h.port());
    await roundTrip(client, Buffer.from("x"));
    await h.clock.advance(IDLE_MS * 2);
    assert.equal(h.forwarder.snapshot().connectedTargets.length, 1, "no idle close while a connection is open");

    client.end();
    await until(() => h.records.length === 1, "the connection to end");
    await h.clock.advance(IDLE_MS - 1);
    assert.equal(h.forwarder.snapshot().connectedTargets.length, 1, "kept until the idle period is over");
    await h.clock.advance(1);
    await flush();
    assert.equal(h.forwarder.snapshot().warm, false);
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, []);
    assert.equal(h.dialer.tunnelTo("web-0").state.kind, "closed", "the idle tunnel was closed");
    assert.ok(h.metricCalls.includes("idleTunnelsClosed:1"));

    const again = await connectClient(h.port());
    assert.equal((await roundTrip(again, Buffer.from("warm again"))).toString(), "warm again");
    assert.equal(h.dialer.attempts.length, 2, "dialled again for the next connection");
  });

  it("a connection within the idle period keeps the tunnels, and the period starts again when it ends", async () => {
    const h = startForwarder();
    await h.forwarder.update(standby([target("web-0")]));
    const first = await connectClient(h.port());
    await roundTrip(first, Buffer.from("1"));
    first.end();
    await until(() => h.records.length === 1, "the first connection to end");
    await h.clock.advance(IDLE_MS / 2);
    const second = await connectClient(h.port());
    await roundTrip(second, Buffer.from("2"));
    second.end();
    await until(() => h.records.length === 2, "the second connection to end");
    await h.clock.advance(IDLE_MS / 2 + 1);
    assert.equal(h.forwarder.snapshot().connectedTargets.length, 1, "the first idle period was cancelled");
    await h.clock.advance(IDLE_MS / 2);
    await flush();
    assert.equal(h.forwarder.snapshot().warm, false);
    assert.equal(h.dialer.attempts.length, 1, "one tunnel served both connections");
  });

  it("switching from kept to standby keeps the tunnels for the idle period (a lagging kube-proxy may still route here)", async () => {
    const h = startForwarder();
    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, ["web-0"]);
    await h.forwarder.update(standby([target("web-0")]));
    await h.clock.advance(IDLE_MS - 1);
    const client = await connectClient(h.port());
    assert.equal((await roundTrip(client, Buffer.from("late route"))).toString(), "late route");
    assert.equal(h.dialer.attempts.length, 1, "served on the tunnel kept from before");
    client.end();
    await until(() => h.records.length === 1, "the connection to end");
    await h.clock.advance(IDLE_MS);
    await flush();
    assert.equal(h.forwarder.snapshot().warm, false, "closed after the idle period that followed the last connection");

    await h.forwarder.update(specOf([target("web-0")]));
    await flush();
    assert.equal(h.forwarder.snapshot().warm, true, "assigned again: tunnels are kept without a connection");
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, ["web-0"]);
    await h.clock.advance(IDLE_MS * 2);
    assert.deepEqual(h.forwarder.snapshot().connectedTargets, ["web-0"], "kept tunnels never idle-close");
  });
});

/**
 * Runs `listen` and returns the net.Server it started listening (observed on Node's
 * `net.server.listen` diagnostics channel, so the forwarder needs no test hook).
 */
async function capturingListenServer(listen: () => Promise<void>): Promise<Server> {
  const servers: Server[] = [];
  const onListen = (message: unknown) => {
    servers.push((message as { server: Server }).server);
  };
  subscribe(LISTEN_CHANNEL, onListen);
  try {
    await listen();
  } finally {
    unsubscribe(LISTEN_CHANNEL, onListen);
  }
  assert.equal(servers.length, 1, "one listener was opened");
  return servers[0]!;
}

/** Published by net.Server#listen with `{ server, options }` (Node's tracing channel `net.server.listen`). */
const LISTEN_CHANNEL = "tracing:net.server.listen:asyncStart";
