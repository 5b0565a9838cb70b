/**
 * Keeps one tunnel to one pod alive: dial, serve until it closes, back off, dial again — until
 * `close()`. The owner (the forwarder) decides when a pod stops being a target and closes it.
 *
 * Lifecycle (discriminated union, never booleans):
 *
 *   dialing ──ok──▶ open ──tunnel closed──▶ backoff ──delay──▶ dialing
 *      └──failed──────────────────────────────▶ backoff
 *   any ──close()──▶ closed
 *
 * Every failure, whatever its reason (PodGone, Forbidden, Network, …), is retried with capped
 * exponential backoff and jitter: RBAC gets fixed, pods come back, API servers restart. The
 * reason is kept (`lastError`) for status. Existing client connections cannot move to another
 * tunnel: when a tunnel dies, its connections fail and are counted; new ones go elsewhere.
 *
 * `redialNow()` (a reconcile request) resets the backoff and cuts a backoff wait short, so a
 * tunnel that is not open dials again at once; an open tunnel is left alone, since redialling it
 * would cut its live connections.
 */
import type { Duplex } from "node:stream";
import type { Logger } from "../observability/log.ts";
import { Backoff } from "../runtime/backoff.ts";
import { type Clock, sleep, systemClock } from "../runtime/clock.ts";
import type { Tunnel, TunnelCloseReason, TunnelCloseReasonCode } from "../tunnel/index.ts";
import { closeReasonFor, isTunnelError, TunnelError, TunnelErrorCode } from "../tunnel/index.ts";

export type PodTunnelState =
  | { readonly kind: "dialing"; readonly attempt: number }
  | { readonly kind: "open"; readonly tunnel: Tunnel; readonly since: number }
  | { readonly kind: "backoff"; readonly until: number }
  | { readonly kind: "closed" };

export interface PodTunnelFailure {
  readonly reason: TunnelCloseReasonCode;
  readonly message: string;
  readonly at: number;
}

export type OpenTunnelFn = (pod: string, signal: AbortSignal) => Promise<Tunnel>;

export interface PodTunnelObserver {
  /** The state changed (for status and metrics). */
  changed?(tunnel: PodTunnel): void;
  /** A dial finished: ok, or the failure reason; duration in seconds. */
  dialed?(pod: string, result: "ok" | TunnelCloseReasonCode, seconds: number): void;
  /** An open tunnel ended with this reason. */
  ended?(pod: string, reason: TunnelCloseReasonCode): void;
}

export interface PodTunnelOptions {
  readonly pod: string;
  readonly open: OpenTunnelFn;
  readonly log: Logger;
  readonly observer?: PodTunnelObserver;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Reconnect backoff; defaults 250 ms doubling to 30 s, full jitter, reset after 60 s stable. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export class PodTunnel {
  readonly pod: string;
  readonly #options: PodTunnelOptions;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  #state: PodTunnelState = { kind: "dialing", attempt: 0 };
  #reconnects = 0;
  #lastFailure: PodTunnelFailure | undefined;
  #protocol: string | undefined;
  #readyWaiters: Array<() => void> = [];
  #loop: Promise<void> | undefined;
  /** Ends the current backoff wait early (redialNow); undefined outside backoff. */
  #cutBackoff: (() => void) | undefined;

  constructor(options: PodTunnelOptions) {
    this.pod = options.pod;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({
      initialMs: options.initialBackoffMs ?? 250,
      maxMs: options.maxBackoffMs ?? 30_000,
      jitter: "full",
      resetAfterMs: 60_000,
      clock: this.#clock,
      ...(options.random ? { random: options.random } : {}),
    });
  }

  get state(): PodTunnelState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state.kind === "open";
  }

  /** Tunnels re-dialled after the first successful one. */
  get reconnects(): number {
    return this.#reconnects;
  }

  get lastFailure(): PodTunnelFailure | undefined {
    return this.#lastFailure;
  }

  /** Wire protocol of the current (or last) tunnel. */
  get protocol(): string | undefined {
    return this.#protocol;
  }

  get activeConnections(): number {
    return this.#state.kind === "open" ? this.#state.tunnel.counters.activeConnections : 0;
  }

  /** Starts the dial loop (idempotent). */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      this.#options.log.error("Tunnel loop failed unexpectedly", { pod: this.pod, error });
    });
  }

  /** A connection to `port` on the open tunnel; throws a coded error when not open. */
  connect(port: number): Duplex {
    if (this.#state.kind !== "open") {
      throw new TunnelError(TunnelErrorCode.TunnelClosed, `no open tunnel to pod ${this.pod}`);
    }
    return this.#state.tunnel.connect(port);
  }

  /** Resolves when the tunnel is open (at once if it is), or when closed/aborted. */
  whenOpen(signal: AbortSignal): Promise<void> {
    if (this.#state.kind === "open" || this.#state.kind === "closed" || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#readyWaiters.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Dial again now if not open: the backoff restarts from its initial delay, and a backoff wait
   * ends at once. Returns whether a redial was brought forward (false when open, dialing or closed).
   */
  redialNow(): boolean {
    const kind = this.#state.kind;
    if (kind === "open" || kind === "closed") return false;
    this.#backoff.reset();
    if (kind !== "backoff") return false;
    this.#cutBackoff?.();
    return true;
  }

  /** Stops redialling and closes the tunnel (its connections fail); resolves when the loop ends. */
  async close(): Promise<void> {
    this.#abort.abort();
    if (this.#state.kind === "open") this.#state.tunnel.close();
    this.#setState({ kind: "closed" });
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let attempt = 0;
    let everOpened = false;
    while (!signal.aborted) {
      this.#setState({ kind: "dialing", attempt });
      const started = this.#clock.now();
      let tunnel: Tunnel;
      try {
        tunnel = await this.#options.open(this.pod, signal);
      } catch (error) {
        if (signal.aborted) break;
        const reason = closeReasonFor(isTunnelError(error) ? error : new TunnelError(TunnelErrorCode.Network, String(error)));
        this.#options.observer?.dialed?.(this.pod, reason.reason, (this.#clock.now() - started) / 1000);
        this.#fail(reason);
        attempt += 1;
        await this.#backOff(signal);
        continue;
      }
      if (signal.aborted) {
        tunnel.close();
        break;
      }
      this.#options.observer?.dialed?.(this.pod, "ok", (this.#clock.now() - started) / 1000);
      if (everOpened) this.#reconnects += 1;
      everOpened = true;
      attempt = 0;
      this.#protocol = tunnel.protocol;
      this.#setState({ kind: "open", tunnel, since: this.#clock.now() });
      const waiters = this.#readyWaiters;
      this.#readyWaiters = [];
      for (const wake of waiters) wake();
      const ended = await tunnel.closed;
      if (signal.aborted) break;
      this.#options.observer?.ended?.(this.pod, ended.reason);
      this.#fail(ended);
      await this.#backOff(signal);
    }
    this.#setState({ kind: "closed" });
    for (const wake of this.#readyWaiters.splice(0)) wake();
  }

  #fail(reason: TunnelCloseReason): void {
    this.#lastFailure = { reason: reason.reason, message: reason.message, at: this.#clock.now() };
    this.#options.log.warn("Tunnel to pod failed; will redial", { pod: this.pod, reason: reason.reason, message: reason.message });
  }

  async #backOff(signal: AbortSignal): Promise<void> {
    const delay = this.#backoff.next();
    const cut = new AbortController();
    this.#cutBackoff = () => cut.abort();
    this.#setState({ kind: "backoff", until: this.#clock.now() + delay });
    try {
      await sleep(this.#clock, delay, AbortSignal.any([signal, cut.signal]));
    } finally {
      this.#cutBackoff = undefined;
    }
  }

  #setState(state: PodTunnelState): void {
    if (this.#state.kind === "closed") return;
    this.#state = state;
    this.#options.observer?.changed?.(this);
  }
}
