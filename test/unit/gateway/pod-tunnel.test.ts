// PodTunnel with a fake clock, an injected random source and a scripted OpenTunnelFn whose
// tunnels are in-memory (test/support/memory-tunnel.ts): dial → open, backoff with jitter,
// doubling and a cap, reset after a stable period, redial after a drop, close in every state.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { PodTunnel, type PodTunnelOptions } from "../../../src/gateway/pod-tunnel.ts";
import { Logger } from "../../../src/observability/log.ts";
import type { Tunnel } from "../../../src/tunnel/tunnel.ts";
import { isTunnelError, TunnelError, TunnelErrorCode } from "../../../src/tunnel/tunnel-error.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";
import { MemoryTunnel, TunnelDialer } from "../../support/memory-tunnel.ts";

interface Harness {
  readonly clock: FakeClock;
  readonly dialer: TunnelDialer;
  readonly tunnel: PodTunnel;
  readonly logs: Record<string, unknown>[];
  readonly events: string[];
}

/** A started PodTunnel to pod "web-0"; backoff 100 ms doubling to 400 ms; jitter multiplies by `random()`. */
function startPodTunnel(options: Partial<PodTunnelOptions> & { random?: () => number } = {}): Harness {
  const clock = new FakeClock();
  const dialer = new TunnelDialer();
  const logs: Record<string, unknown>[] = [];
  const events: string[] = [];
  const tunnel = new PodTunnel({
    pod: "web-0",
    open: dialer.open,
    log: new Logger({ level: "debug", sink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>), now: () => clock.now() }),
    clock,
    random: () => 0.5,
    initialBackoffMs: 100,
    maxBackoffMs: 400,
    observer: {
      changed: (t) => events.push(`changed:${t.state.kind}`),
      dialed: (pod, result) => events.push(`dialed:${pod}:${result}`),
      ended: (pod, reason) => events.push(`ended:${pod}:${reason}`),
    },
    ...options,
  });
  tunnel.start();
  return { clock, dialer, tunnel, logs, events };
}

/** Fails the current dial and returns the backoff delay the tunnel chose. */
async function failDial(h: Harness, error: Error = new TunnelError(TunnelErrorCode.Network, "connect ECONNREFUSED")): Promise<number> {
  await flush();
  h.dialer.latest("web-0").fail(error);
  await flush();
  const state = h.tunnel.state;
  assert.equal(state.kind, "backoff");
  return state.until - h.clock.now();
}

async function readEcho(connection: NodeJS.ReadWriteStream, text: string): Promise<string> {
  connection.write(text);
  const [chunk] = (await once(connection, "data")) as [Buffer];
  return chunk.toString();
}

describe("PodTunnel", () => {
  it("dials on start and serves connections once the tunnel is open", async () => {
    const h = startPodTunnel();
    await flush();
    assert.deepEqual(h.tunnel.state, { kind: "dialing", attempt: 0 });
    assert.equal(h.tunnel.isOpen, false);
    assert.equal(h.dialer.attempts.length, 1);

    const memory = h.dialer.latest("web-0").succeed();
    await flush();
    assert.equal(h.tunnel.isOpen, true);
    assert.equal(h.tunnel.protocol, memory.protocol);
    assert.deepEqual(h.events, ["changed:dialing", "dialed:web-0:ok", "changed:open"]);

    const connection = h.tunnel.connect(8080);
    assert.equal(await readEcho(connection, "hello"), "hello");
    assert.deepEqual(memory.connectedPorts, [8080]);
    assert.equal(h.tunnel.activeConnections, 1);
    connection.destroy();
    await flush();
    assert.equal(h.tunnel.activeConnections, 0);
    assert.equal(h.tunnel.reconnects, 0);
    await h.tunnel.close();
  });

  it("refuses connect() with PF_ERR_TUNNEL_CLOSED while no tunnel is open", async () => {
    const h = startPodTunnel();
    await flush();
    assert.throws(
      () => h.tunnel.connect(8080),
      (error: unknown) => isTunnelError(error) && error.code === TunnelErrorCode.TunnelClosed,
    );
    await h.tunnel.close();
  });

  it("backs off after failed dials with jitter from the injected random source, doubling up to the cap", async () => {
    const h = startPodTunnel({ random: () => 0.5 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      delays.push(await failDial(h));
      await h.clock.advance(delays.at(-1)!);
    }
    // 0.5 × min(400, 100 × 2^n)
    assert.deepEqual(delays, [50, 100, 200, 200, 200]);
    assert.equal(h.dialer.attempts.length, 6);
    assert.deepEqual(h.tunnel.state, { kind: "dialing", attempt: 5 });
    await h.tunnel.close();
  });

  it("uses the random source for the jitter itself (full jitter: random × the exponential delay)", async () => {
    const draws = [0.1, 0.9, 0.25];
    const h = startPodTunnel({ random: () => draws.shift() ?? 0 });
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      delays.push(await failDial(h));
      await h.clock.advance(delays.at(-1)!);
    }
    assert.deepEqual(delays, [10, 180, 100]);
    await h.tunnel.close();
  });

  it("does not redial before the backoff delay has passed", async () => {
    const h = startPodTunnel({ random: () => 1 });
    const delay = await failDial(h);
    assert.equal(delay, 100);
    await h.clock.advance(99);
    assert.equal(h.dialer.attempts.length, 1);
    assert.equal(h.tunnel.state.kind, "backoff");
    await h.clock.advance(1);
    assert.equal(h.dialer.attempts.length, 2);
    assert.equal(h.tunnel.state.kind, "dialing");
    await h.tunnel.close();
  });

  it("redialNow() in backoff dials at once and restarts the backoff from its initial delay", async () => {
    const h = startPodTunnel({ random: () => 1 });
    assert.equal(await failDial(h), 100);
    await h.clock.advance(100);
    assert.equal(await failDial(h), 200, "the backoff doubled");
    assert.equal(h.tunnel.redialNow(), true);
    await flush();
    assert.equal(h.dialer.attempts.length, 3, "dialled without waiting for the 200 ms");
    assert.equal(h.tunnel.state.kind, "dialing");
    assert.equal(await failDial(h), 100, "the next failure waits the initial delay again");
    await h.tunnel.close();
  });

  it("redialNow() leaves an open tunnel and its connections alone", async () => {
    const h = startPodTunnel();
    await flush();
    const memory = h.dialer.latest("web-0").succeed();
    await flush();
    const connection = h.tunnel.connect(8080);
    assert.equal(h.tunnel.redialNow(), false);
    await flush();
    assert.equal(h.dialer.attempts.length, 1, "no new dial");
    assert.equal(h.tunnel.isOpen, true);
    assert.equal(await readEcho(connection, "still here"), "still here");
    assert.deepEqual(memory.connectedPorts, [8080]);
    connection.destroy();
    await h.tunnel.close();
  });

  it("redialNow() while dialing adds no second dial, and does nothing once closed", async () => {
    const h = startPodTunnel({ random: () => 1 });
    assert.equal(await failDial(h), 100);
    await h.clock.advance(100);
    assert.equal(h.tunnel.state.kind, "dialing");
    assert.equal(h.tunnel.redialNow(), false);
    await flush();
    assert.equal(h.dialer.attempts.length, 2);
    assert.equal(await failDial(h), 100, "but its backoff was reset: 100 ms, not 200 ms");
    await h.tunnel.close();
    assert.equal(h.tunnel.redialNow(), false);
    await flush();
    assert.equal(h.dialer.attempts.length, 2);
    assert.deepEqual(h.tunnel.state, { kind: "closed" });
  });

  it("keeps the reason of the latest failure and reports each failed dial with it", async () => {
    const h = startPodTunnel();
    await failDial(h, new TunnelError(TunnelErrorCode.Forbidden, "pods/portforward is forbidden"));
    assert.equal(h.tunnel.lastFailure?.reason, "Forbidden");
    assert.equal(h.tunnel.lastFailure?.message, "pods/portforward is forbidden");
    assert.equal(h.tunnel.lastFailure?.at, h.clock.now());
    assert.ok(h.events.includes("dialed:web-0:Forbidden"));
    assert.ok(h.logs.some((l) => l.msg === "Tunnel to pod failed; will redial" && l.reason === "Forbidden"));
    await h.clock.tick();
    // An error that is not coded counts as a network failure.
    await failDial(h, new Error("socket hang up"));
    assert.equal(h.tunnel.lastFailure?.reason, "Network");
    await h.tunnel.close();
  });

  it("starts the backoff sequence again after a stable period (60 s without a failure)", async () => {
    const h = startPodTunnel({ random: () => 1 });
    assert.equal(await failDial(h), 100);
    await h.clock.advance(100);
    assert.equal(await failDial(h), 200);
    await h.clock.advance(200);
    await flush();
    const first = h.dialer.latest("web-0").succeed();
    await flush();
    await h.clock.advance(60_000);
    first.drop();
    await flush();
    const state = h.tunnel.state;
    assert.equal(state.kind, "backoff");
    assert.equal(state.until - h.clock.now(), 100, "the sequence restarted from the initial delay");
    await h.tunnel.close();
  });

  it("goes on doubling when a tunnel drops soon after opening (no stable period)", async () => {
    const h = startPodTunnel({ random: () => 1 });
    assert.equal(await failDial(h), 100);
    await h.clock.advance(100);
    await flush();
    const first = h.dialer.latest("web-0").succeed();
    await flush();
    await h.clock.advance(1_000);
    first.drop();
    await flush();
    const state = h.tunnel.state;
    assert.equal(state.kind, "backoff");
    assert.equal(state.until - h.clock.now(), 200);
    await h.tunnel.close();
  });

  it("redials after the open tunnel drops, counting a reconnect and the reason it ended", async () => {
    const h = startPodTunnel({ random: () => 1 });
    await flush();
    const first = h.dialer.latest("web-0").succeed();
    await flush();
    const connection = h.tunnel.connect(8080);
    const failed = once(connection, "error") as Promise<[TunnelError]>;
    first.drop("the API server went away");
    const [error] = await failed;
    assert.equal(error.code, TunnelErrorCode.TunnelClosed, "open connections fail with the tunnel");
    await flush();
    assert.equal(h.tunnel.state.kind, "backoff");
    assert.equal(h.tunnel.lastFailure?.reason, "Network");
    assert.ok(h.events.includes("ended:web-0:Network"));

    await h.clock.advance(100);
    assert.equal(h.dialer.attempts.length, 2);
    const second = h.dialer.latest("web-0").succeed();
    await flush();
    assert.equal(h.tunnel.isOpen, true);
    assert.equal(h.tunnel.reconnects, 1);
    const again = h.tunnel.connect(8080);
    assert.equal(await readEcho(again, "again"), "again");
    assert.deepEqual(second.connectedPorts, [8080], "the new connection went through the new tunnel");
    again.destroy();
    await h.tunnel.close();
  });

  it("close() while dialing aborts the dial and never dials again", async () => {
    const h = startPodTunnel();
    await flush();
    const attempt = h.dialer.latest("web-0");
    await h.tunnel.close();
    assert.equal(attempt.signal.aborted, true);
    assert.deepEqual(h.tunnel.state, { kind: "closed" });
    await h.clock.advance(120_000);
    assert.equal(h.dialer.attempts.length, 1);
    assert.ok(!h.events.some((e) => e.startsWith("dialed:")), "an aborted dial is not reported as a failure");
  });

  it("close() while dialing closes a tunnel that arrives after all (an OpenTunnelFn that ignores the signal)", async () => {
    const clock = new FakeClock();
    let deliver: ((tunnel: Tunnel) => void) | undefined;
    const tunnel = new PodTunnel({
      pod: "web-0",
      open: () =>
        new Promise<Tunnel>((resolve) => {
          deliver = resolve;
        }),
      log: new Logger({ sink: () => undefined }),
      clock,
    });
    tunnel.start();
    await flush();
    const closing = tunnel.close();
    const late = new MemoryTunnel("web-0");
    deliver!(late);
    await closing;
    assert.equal(late.state.kind, "closed");
    assert.equal(tunnel.isOpen, false);
  });

  it("close() during the backoff ends the wait at once, with no further dial", async () => {
    const h = startPodTunnel();
    await failDial(h);
    await h.tunnel.close();
    assert.deepEqual(h.tunnel.state, { kind: "closed" });
    assert.equal(h.clock.pendingTimers(), 0);
    await h.clock.advance(60_000);
    assert.equal(h.dialer.attempts.length, 1);
  });

  it("close() while open closes the tunnel and fails its connections", async () => {
    const h = startPodTunnel();
    await flush();
    const memory = h.dialer.latest("web-0").succeed();
    await flush();
    const connection = h.tunnel.connect(8080);
    const failed = once(connection, "error");
    await h.tunnel.close();
    await failed;
    assert.equal(memory.state.kind, "closed");
    assert.deepEqual(h.tunnel.state, { kind: "closed" });
    assert.ok(!h.events.some((e) => e.startsWith("ended:")), "a close we asked for is not a failure");
    await h.clock.advance(60_000);
    assert.equal(h.dialer.attempts.length, 1);
  });

  it("whenOpen() resolves when the tunnel opens, at once when open, and on close or abort", async () => {
    const h = startPodTunnel();
    await flush();
    let opened = false;
    const opening = h.tunnel.whenOpen(new AbortController().signal).then(() => {
      opened = true;
    });
    await flush();
    assert.equal(opened, false);
    h.dialer.latest("web-0").succeed();
    await opening;
    assert.equal(opened, true);
    await h.tunnel.whenOpen(new AbortController().signal);

    const other = startPodTunnel();
    await flush();
    const aborted = new AbortController();
    const waitingForAbort = other.tunnel.whenOpen(aborted.signal);
    aborted.abort();
    await waitingForAbort;
    const waitingForClose = other.tunnel.whenOpen(new AbortController().signal);
    await other.tunnel.close();
    await waitingForClose;
    await h.tunnel.close();
  });
});
