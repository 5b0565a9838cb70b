/**
 * Everything one PortForward needs on one gateway replica (or one `tunnelkeeper forward` run):
 * a TCP listener per bound port, a kept-alive tunnel per target pod, and the choice of pod for
 * each new connection.
 *
 * `update(spec)` moves it to a new desired state without disturbing what stays: listeners are
 * opened and closed per binding, tunnels per pod. A pod that stops being ready keeps its tunnel
 * (its open connections go on) but gets no new connections; a pod that is no longer a target at
 * all has its tunnel closed. A new connection arriving while no tunnel is open waits up to
 * `connectWaitMs` for one (a replaced pod's tunnel is usually seconds away), then is reset.
 *
 * Waiting is event-driven, never polled: a waiting connection chooses again only when something
 * that could serve it happened — a tunnel opened, `update()` brought new targets or readiness —
 * or when the forwarder closes, its client goes away, or the connect wait ends. (A poll that
 * woke on `PodTunnel.whenOpen` resolved at once for a tunnel that was open but whose target was
 * not ready, e.g. a terminating pod, and spun on microtasks for the whole connect wait, starving
 * the event loop: the failover e2e lost 10 s per connection that arrived in that window.)
 *
 * A binding may be pinned to one target pod (a per-pod Service, spec.service.perPod): its
 * connections go to that pod only, bypassing load balancing, and wait and are reset exactly as
 * any connection does while no tunnel to a ready target is open.
 *
 * Access: with `authorize`, each accepted connection is checked before anything else happens
 * (the socket stays paused, nothing is read); a denied one is reset as soon as the decision is
 * made (RST, no byte read or written) and never waits for a tunnel.
 * Every connection, denied or not, is reported once when it ends through `onConnectionEnded`
 * (the gateway's access log).
 *
 *   running ──close(drainMs)──▶ draining (listeners closed; open sessions may finish) ──▶ closed
 */
import { createServer, type Server, type Socket } from "node:net";
import type { LoadBalancing } from "../api/spec.ts";
import type { Logger } from "../observability/log.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";
import { byPod } from "../runtime/order.ts";
import type { TunnelCloseReasonCode } from "../tunnel/index.ts";
import type { AccessDecision, PeerPod } from "./access-decision.ts";
import { normalizeAddress } from "./access-decision.ts";
import { DEFAULT_HALF_CLOSE_GRACE_MS, type SessionOutcome, spliceConnection } from "./client-session.ts";
import type { ConnectionResult, GatewayMetrics } from "./gateway-metrics.ts";
import { pickTarget } from "./load-balancer.ts";
import { type OpenTunnelFn, PodTunnel } from "./pod-tunnel.ts";

export interface ForwarderTarget {
  readonly pod: string;
  readonly ready: boolean;
  /** spec port → port on this pod. */
  readonly ports: readonly { readonly port: number; readonly targetPort: number }[];
}

export interface ForwarderBinding {
  /** The PortForward's (Service) port this listener carries. */
  readonly port: number;
  /** Local port to listen on (the allocated gateway port, or `forward`'s LOCAL; 0 = any free port). */
  readonly listenPort: number;
  /** Address to listen on; default the forwarder's `listenHost` (`forward` binds one port on several). */
  readonly listenHost?: string;
  /** Pinned to this target pod (a per-pod Service): its connections go to this pod only. */
  readonly pod?: string;
}

/** Identity of a binding: its port, and the pod it is pinned to (several bindings share a port). */
function bindingKey(binding: ForwarderBinding): string {
  return binding.pod === undefined ? String(binding.port) : `${binding.port}/${binding.pod}`;
}

export interface ForwarderSpec {
  readonly targets: readonly ForwarderTarget[];
  readonly bindings: readonly ForwarderBinding[];
  readonly loadBalancing: LoadBalancing;
  /**
   * Keep a tunnel open to every ready target (default true). False (a gateway replica standing by,
   * see controller/assign-gateways.ts): tunnels open when a connection arrives and close once no
   * connection has been open for `idleTunnelCloseMs`; a forwarder that kept them keeps them that
   * long after the switch too, so connections still routed here by a lagging kube-proxy are served.
   */
  readonly keepTunnels?: boolean;
}

/** What the status entry and logs report about this forwarder. */
export interface ForwarderSnapshot {
  /** Ready target pods with an open tunnel, by name. */
  readonly connectedTargets: readonly string[];
  readonly protocol: string | undefined;
  readonly activeConnections: number;
  readonly reconnects: number;
  /** The latest failure among the target tunnels, if any is not open. */
  readonly lastFailure: { readonly reason: TunnelCloseReasonCode; readonly message: string } | undefined;
  /**
   * No tunnel to a ready target is open and none has failed, but one is on its first dial: what
   * the tunnels will say is not known yet. The dial ends either way (open, or failed within its
   * handshake timeout) and reports the change.
   */
  readonly firstDialPending: boolean;
  /** Why the latest client connection failed on the pod side (e.g. the pod refused the port), if any did. */
  readonly lastConnectionError: string | undefined;
  /** Whether tunnels are wanted now: always when kept, else from a connection until idle (ForwarderSpec.keepTunnels). */
  readonly warm: boolean;
  /** Bound listeners that are not pinned to a pod: spec port → actual local port. */
  readonly listening: ReadonlyMap<number, number>;
  /** Whether there are bindings and every one has its listener, i.e. clients can connect. */
  readonly serving: boolean;
  readonly listenErrors: readonly string[];
}

/** The access decision for one connection and who the client is, when known. */
export interface ConnectionAccess {
  readonly decision: AccessDecision;
  readonly client: PeerPod | undefined;
}

/** One client connection, reported when it ends (denied ones included). */
export interface ConnectionRecord {
  /** Client address (IPv4-mapped IPv6 shown as IPv4) and port. */
  readonly clientAddress: string;
  readonly clientPort: number | undefined;
  readonly client: PeerPod | undefined;
  /** The PortForward (Service) port the client connected to. */
  readonly port: number;
  readonly targetPod: string | undefined;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly result: ConnectionResult;
  readonly decision: AccessDecision | undefined;
  /** Why an upstream or client error happened. */
  readonly error: string | undefined;
}

export interface ForwarderOptions {
  /** For logs and metrics: `namespace/name`. */
  readonly name: string;
  readonly listenHost: string;
  readonly openTunnel: OpenTunnelFn;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** Called whenever something the snapshot reports may have changed. */
  readonly onChange?: () => void;
  /** Called when a listener accepts a connection (`forward` prints kubectl's "Handling connection for"). */
  readonly onConnection?: (binding: ForwarderBinding) => void;
  /** Decides whether a client may use this forward; absent, every client may (the laptop `forward`). */
  readonly authorize?: (remoteAddress: string) => ConnectionAccess | Promise<ConnectionAccess>;
  /** Called once for every client connection when it ends (the access log). */
  readonly onConnectionEnded?: (record: ConnectionRecord) => void;
  readonly connectWaitMs?: number;
  /** Without keepTunnels, how long tunnels stay open after the last connection ended (default 60 s). */
  readonly idleTunnelCloseMs?: number;
  readonly halfCloseGraceMs?: number;
  /** Every wait and duration here (connect wait, drain, half-close grace, tunnel backoff); default the system clock. */
  readonly clock?: Clock;
}

interface Listener {
  readonly binding: ForwarderBinding;
  readonly server: Server;
  port: number;
}

const DEFAULT_CONNECT_WAIT_MS = 10_000;
export const DEFAULT_IDLE_TUNNEL_CLOSE_MS = 60_000;

export class Forwarder {
  readonly name: string;
  readonly #options: ForwarderOptions;
  readonly #clock: Clock;
  /** By bindingKey. */
  readonly #listeners = new Map<string, Listener>();
  readonly #tunnels = new Map<string, PodTunnel>();
  readonly #sessions = new Set<Socket>();
  readonly #listenErrors = new Map<string, string>();
  #spec: ForwarderSpec = { targets: [], bindings: [], loadBalancing: "RoundRobin" };
  #lastPicked: string | undefined;
  #state: "running" | "draining" | "closed" = "running";
  #sessionsDrained: (() => void) | undefined;
  #tunnelsUp = new Set<string>();
  #lastConnectionError: string | undefined;
  /** Wake-ups of the connections waiting for a tunnel (see #nextChange). */
  readonly #waiting = new Set<() => void>();
  /** Whether tunnels are wanted (see ForwarderSpec.keepTunnels); a new forwarder starts cold. */
  #warm = false;
  /** Closes the tunnels of an idle forwarder that does not keep them. */
  #idleTimer: ReturnType<Clock["setTimeout"]> | undefined;

  constructor(options: ForwarderOptions) {
    this.name = options.name;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  async update(spec: ForwarderSpec): Promise<void> {
    if (this.#state !== "running") return;
    this.#spec = spec;
    if (spec.keepTunnels !== false) {
      this.#warm = true;
      this.#cancelIdleClose();
    } else if (this.#warm) this.#scheduleIdleClose();
    const wanted = new Set(spec.targets.map((t) => t.pod));
    for (const [pod, tunnel] of this.#tunnels) {
      if (!wanted.has(pod)) {
        this.#tunnels.delete(pod);
        this.#closeTunnel(tunnel);
      }
    }
    this.#openTunnels();
    // Targets, readiness or the policy may have changed: waiting connections choose again.
    this.#wakeWaiting();
    const bound = new Map(spec.bindings.map((b) => [bindingKey(b), b]));
    for (const [key, listener] of this.#listeners) {
      const binding = bound.get(key);
      const moved =
        binding !== undefined &&
        (binding.listenHost ?? this.#options.listenHost) !== (listener.binding.listenHost ?? this.#options.listenHost);
      if (binding === undefined || moved || (binding.listenPort !== 0 && binding.listenPort !== listener.port)) {
        this.#listeners.delete(key);
        listener.server.close();
      }
    }
    for (const key of this.#listenErrors.keys()) if (!bound.has(key)) this.#listenErrors.delete(key);
    await Promise.all(spec.bindings.filter((b) => !this.#listeners.has(bindingKey(b))).map((b) => this.#listen(b)));
    this.#changed();
  }

  snapshot(): ForwarderSnapshot {
    const ready = new Set(this.#spec.targets.filter((t) => t.ready).map((t) => t.pod));
    const tunnels = [...this.#tunnels.values()];
    const open = tunnels.filter((t) => t.isOpen && ready.has(t.pod));
    const failing = tunnels
      .filter((t) => !t.isOpen && t.lastFailure !== undefined)
      .map((t) => t.lastFailure!)
      .sort((a, b) => b.at - a.at)[0];
    return {
      connectedTargets: open.map((t) => t.pod).sort(),
      protocol: open[0]?.protocol ?? tunnels.find((t) => t.protocol !== undefined)?.protocol,
      warm: this.#warm,
      activeConnections: this.#sessions.size,
      reconnects: tunnels.reduce((sum, t) => sum + t.reconnects, 0),
      lastFailure: failing === undefined ? undefined : { reason: failing.reason, message: failing.message },
      firstDialPending:
        open.length === 0 &&
        failing === undefined &&
        tunnels.some((t) => ready.has(t.pod) && t.state.kind === "dialing" && t.lastFailure === undefined),
      lastConnectionError: this.#lastConnectionError,
      listening: new Map([...this.#listeners.values()].filter((l) => l.binding.pod === undefined).map((l) => [l.binding.port, l.port])),
      serving: this.#spec.bindings.length > 0 && this.#spec.bindings.every((b) => this.#listeners.has(bindingKey(b))),
      listenErrors: [...this.#listenErrors.values()],
    };
  }

  /**
   * A reconcile request: every target tunnel that is not open dials again now, with its backoff
   * reset (PodTunnel.redialNow); open tunnels are kept, so no live connection is cut. Returns how
   * many redials were brought forward.
   */
  redialNow(): number {
    let redialled = 0;
    for (const tunnel of this.#tunnels.values()) if (tunnel.redialNow()) redialled += 1;
    return redialled;
  }

  /** Stops accepting, lets open sessions finish for up to `drainMs`, then closes everything. */
  async close(drainMs = 0): Promise<void> {
    if (this.#state !== "running") return;
    this.#state = "draining";
    this.#cancelIdleClose();
    this.#wakeWaiting();
    for (const listener of this.#listeners.values()) listener.server.close();
    this.#listeners.clear();
    if (this.#sessions.size > 0 && drainMs > 0) {
      const drained = new AbortController();
      this.#sessionsDrained = () => drained.abort();
      await sleep(this.#clock, drainMs, drained.signal);
    }
    this.#state = "closed";
    for (const socket of this.#sessions) socket.destroy();
    await Promise.all([...this.#tunnels.values()].map((t) => t.close()));
    this.#tunnels.clear();
    this.#syncTunnelGauge();
  }

  /** While warm: a tunnel to every ready target that has none (kept open by PodTunnel's redials). */
  #openTunnels(): void {
    if (!this.#warm) return;
    for (const target of this.#spec.targets) {
      if (!target.ready || this.#tunnels.has(target.pod)) continue;
      const tunnel = new PodTunnel({
        pod: target.pod,
        open: this.#options.openTunnel,
        log: this.#options.log,
        clock: this.#clock,
        observer: {
          changed: (tunnel) => {
            if (tunnel.isOpen) this.#wakeWaiting();
            this.#changed();
          },
          dialed: (_pod, result, seconds) => this.#options.metrics.dialed(result, seconds),
          ended: (_pod, reason) => this.#options.metrics.reconnect(reason),
        },
      });
      this.#tunnels.set(target.pod, tunnel);
      tunnel.start();
    }
  }

  /** Closes a tunnel already taken out of #tunnels; the snapshot changes again once it has closed. */
  #closeTunnel(tunnel: PodTunnel): void {
    tunnel.close().then(
      () => this.#changed(),
      (error: unknown) => this.#options.log.error("Failed to close a tunnel", { pod: tunnel.pod, error }),
    );
  }

  /** A connection arrived: a cold forwarder opens its tunnels; none closes while one is open. */
  #warmUp(): void {
    this.#cancelIdleClose();
    if (this.#warm) return;
    this.#warm = true;
    this.#openTunnels();
    this.#changed();
  }

  /** Without keepTunnels and with no connection open: close the tunnels after the idle period. */
  #scheduleIdleClose(): void {
    if (this.#spec.keepTunnels !== false || this.#sessions.size > 0 || this.#idleTimer !== undefined || this.#state !== "running") return;
    this.#idleTimer = this.#clock.setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#spec.keepTunnels !== false || this.#sessions.size > 0 || this.#state !== "running") return;
      this.#warm = false;
      const idle = [...this.#tunnels.values()];
      this.#tunnels.clear();
      this.#options.metrics.idleTunnelsClosed(idle.length);
      this.#options.log.debug("Closed idle tunnels of a forward this replica does not keep", {
        portforward: this.name,
        tunnels: idle.length,
      });
      for (const tunnel of idle) this.#closeTunnel(tunnel);
      this.#changed();
    }, this.#options.idleTunnelCloseMs ?? DEFAULT_IDLE_TUNNEL_CLOSE_MS);
  }

  #cancelIdleClose(): void {
    if (this.#idleTimer === undefined) return;
    this.#clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #listen(binding: ForwarderBinding): Promise<void> {
    const host = binding.listenHost ?? this.#options.listenHost;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
      this.#options.onConnection?.(binding);
      this.#handle(socket, binding).catch((error: unknown) => {
        this.#options.log.error("Connection handling failed", { portforward: this.name, error });
        socket.destroy();
      });
    });
    // An error before the listen callback means we could not listen (EADDRINUSE, EACCES, …);
    // after it, the listener is live and an error is only that (net.Server emits accept failures
    // such as EMFILE and goes on listening), so the first handler is swapped for the second.
    return new Promise((resolve) => {
      const serverOnListenError = (error: NodeJS.ErrnoException) => {
        this.#listenErrors.set(
          bindingKey(binding),
          `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${binding.listenPort}: ${error.code ?? error.message}`,
        );
        this.#options.metrics.listenFailed(this.name);
        this.#options.log.error("Failed to listen", { portforward: this.name, port: binding.port, listenPort: binding.listenPort, error });
        resolve();
      };
      server.once("error", serverOnListenError);
      server.listen(binding.listenPort, host, () => {
        server.off("error", serverOnListenError);
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : binding.listenPort;
        this.#listenErrors.delete(bindingKey(binding));
        this.#listeners.set(bindingKey(binding), { binding, server, port });
        server.on("error", (error: NodeJS.ErrnoException) => this.#listenerFailed(binding, port, error));
        resolve();
      });
    });
  }

  /** An error on a live listener: logged and counted; the listener stays (and is still reported as serving). */
  #listenerFailed(binding: ForwarderBinding, listenPort: number, error: NodeJS.ErrnoException): void {
    this.#options.metrics.listenerError(this.name);
    this.#options.log.error("Listener error", { portforward: this.name, port: binding.port, listenPort, error });
  }

  async #handle(socket: Socket, binding: ForwarderBinding): Promise<void> {
    const { metrics, log } = this.#options;
    socket.on("error", () => undefined); // reported through the session outcome
    const startedAt = this.#clock.now();
    const clientAddress = normalizeAddress(socket.remoteAddress);
    const access = await this.#options.authorize?.(clientAddress);
    const report = (fields: Pick<ConnectionRecord, "result" | "targetPod" | "bytesUp" | "bytesDown" | "error">) =>
      this.#options.onConnectionEnded?.({
        clientAddress,
        clientPort: socket.remotePort,
        client: access?.client,
        port: binding.port,
        durationMs: this.#clock.now() - startedAt,
        decision: access?.decision,
        ...fields,
      });
    if (access !== undefined && !access.decision.allowed) {
      socket.resetAndDestroy();
      metrics.connectionDenied(this.name, access.decision.reason);
      report({ result: "denied", targetPod: undefined, bytesUp: 0, bytesDown: 0, error: undefined });
      return;
    }
    if (this.#state !== "running") {
      socket.resetAndDestroy();
      report({ result: "draining", targetPod: undefined, bytesUp: 0, bytesDown: 0, error: undefined });
      return;
    }
    this.#sessions.add(socket);
    this.#warmUp();
    metrics.connectionOpened(this.name);
    // activeConnections went up: the status entry follows (at the counter pace, gateway-status.ts),
    // not only when some connection closes.
    this.#countsChanged();
    let result: ConnectionResult = "no_target";
    let targetPod: string | undefined;
    let error: string | undefined;
    const bytes = { up: 0, down: 0 };
    try {
      const chosen = await this.#chooseTunnel(socket, binding);
      targetPod = chosen?.target.pod;
      const targetPort = chosen?.target.ports.find((p) => p.port === binding.port)?.targetPort;
      if (chosen === undefined || targetPort === undefined || socket.destroyed) {
        socket.resetAndDestroy();
        return;
      }
      let upstream: ReturnType<PodTunnel["connect"]>;
      try {
        upstream = chosen.tunnel.connect(targetPort);
      } catch (connectError) {
        log.debug("Could not open a forwarded connection", { portforward: this.name, pod: chosen.target.pod, error: connectError });
        result = "upstream_error";
        error = connectError instanceof Error ? connectError.message : String(connectError);
        this.#lastConnectionError = `pod ${chosen.target.pod}: ${error}`;
        socket.resetAndDestroy();
        return;
      }
      socket.resume();
      const outcome: SessionOutcome = await spliceConnection(socket, upstream, {
        halfCloseGraceMs: this.#options.halfCloseGraceMs ?? DEFAULT_HALF_CLOSE_GRACE_MS,
        clock: this.#clock,
        onBytes: (direction, count) => {
          bytes[direction] += count;
          metrics.bytes(this.name, direction, count);
        },
      });
      result = outcome.kind;
      if (outcome.kind !== "completed") error = outcome.error.message;
      if (outcome.kind === "upstream_error") {
        log.debug("Forwarded connection failed", { portforward: this.name, pod: chosen.target.pod, error: outcome.error });
        this.#lastConnectionError = `pod ${chosen.target.pod}: ${outcome.error.message}`;
      }
    } finally {
      this.#sessions.delete(socket);
      metrics.connectionClosed(this.name, result);
      report({ result, targetPod, bytesUp: bytes.up, bytesDown: bytes.down, error });
      if (this.#sessions.size === 0) {
        this.#sessionsDrained?.();
        this.#scheduleIdleClose();
      }
      this.#countsChanged();
    }
  }

  /**
   * Waits for a tunnel that can serve a connection that came in on `binding`. Gives up at the
   * connect wait, on close, when the client goes, or when the binding's listener was withdrawn
   * (its binding left the spec, e.g. the PortForward was suspended): nothing will serve it then.
   */
  async #chooseTunnel(socket: Socket, binding: ForwarderBinding): Promise<{ tunnel: PodTunnel; target: ForwarderTarget } | undefined> {
    const deadline = this.#clock.now() + (this.#options.connectWaitMs ?? DEFAULT_CONNECT_WAIT_MS);
    for (;;) {
      const picked = this.#pickTunnel(binding.pod);
      if (picked !== undefined) return picked;
      const remaining = deadline - this.#clock.now();
      const withdrawn = !this.#listeners.has(bindingKey(binding));
      if (remaining <= 0 || this.#state !== "running" || socket.destroyed || withdrawn) return undefined;
      await this.#nextChange(socket, remaining);
    }
  }

  /**
   * A ready target with an open tunnel, chosen by the load-balancing policy (or the `pinned` pod,
   * which leaves the round-robin cursor alone); undefined if none.
   */
  #pickTunnel(pinned: string | undefined): { tunnel: PodTunnel; target: ForwarderTarget } | undefined {
    const candidates = this.#spec.targets
      .filter((t) => (pinned === undefined || t.pod === pinned) && t.ready && this.#tunnels.get(t.pod)?.isOpen === true)
      .map((t) => ({
        target: t,
        tunnel: this.#tunnels.get(t.pod)!,
        pod: t.pod,
        activeConnections: this.#tunnels.get(t.pod)!.activeConnections,
      }))
      .sort(byPod);
    if (pinned !== undefined) return candidates[0];
    const picked = pickTarget(candidates, this.#spec.loadBalancing, this.#lastPicked);
    if (picked !== undefined) this.#lastPicked = picked.pod;
    return picked;
  }

  /**
   * Resolves at the next wake-up (#wakeWaiting: a tunnel opened, update(), close()), when the
   * client socket closes, or after `ms` — and never sooner, so a waiting connection cannot spin.
   */
  #nextChange(socket: Socket, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#clock.clearTimeout(timer);
        this.#waiting.delete(wake);
        socket.off("close", wake);
        resolve();
      };
      const timer = this.#clock.setTimeout(wake, ms);
      this.#waiting.add(wake);
      socket.once("close", wake);
    });
  }

  #wakeWaiting(): void {
    for (const wake of [...this.#waiting]) wake();
  }

  #changed(): void {
    this.#syncTunnelGauge();
    this.#options.onChange?.();
  }

  /** Only the connection counts moved (a connection opened or ended): no tunnel to re-count on this path. */
  #countsChanged(): void {
    this.#options.onChange?.();
  }

  #syncTunnelGauge(): void {
    const up = new Set(this.#state === "closed" ? [] : [...this.#tunnels.values()].filter((t) => t.isOpen).map((t) => t.pod));
    for (const pod of up) if (!this.#tunnelsUp.has(pod)) this.#options.metrics.tunnelUp(this.name, 1);
    for (const pod of this.#tunnelsUp) if (!up.has(pod)) this.#options.metrics.tunnelUp(this.name, -1);
    this.#tunnelsUp = up;
  }
}
