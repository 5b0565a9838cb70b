/**
 * Ping-based liveness for a tunnel (SPDY PING) or a WebSocket (ping/pong).
 *
 * Contract:
 *  - `start()` sends a ping every `intervalMs`; while one is outstanding no other is sent.
 *    When a ping has waited `timeoutMs` without any pong, `onTimeout` fires once and the
 *    keepalive stops.
 *  - The deadline is re-armed instead of firing while the connection shows life: when
 *    `isInboundPaused()` is true (we paused reading because a consumer is full, so the pong may
 *    sit behind our own pause), or when `progress()` moved since the ping was sent (bytes came
 *    in, or bytes we sent left for the kernel). A pong queues behind every byte buffered along
 *    the path — ours, the kernel's, the API server's, the runtime's — so during a slow upload it
 *    can take longer than the timeout on a perfectly healthy tunnel; progress proves health.
 *    A connection is declared dead only after a full timeout with neither pong nor progress.
 *  - Any pong counts, whatever its id (a late pong still proves the peer is alive).
 *  - Time comes from the injected Clock; nothing starts in the constructor.
 */

import type { Clock, TimerHandle } from "./clock.ts";

export interface KeepaliveOptions {
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly sendPing: () => void;
  readonly onTimeout: () => void;
  readonly isInboundPaused?: () => boolean;
  /** A counter that grows while bytes move in either direction (see ByteTransport.progressBytes). */
  readonly progress?: () => number;
}

type KeepaliveState = { readonly kind: "idle" } | { readonly kind: "waitingForPong" } | { readonly kind: "stopped" };

export class Keepalive {
  readonly #options: KeepaliveOptions;
  #state: KeepaliveState = { kind: "idle" };
  #intervalTimer: TimerHandle | null = null;
  #deadlineTimer: TimerHandle | null = null;
  #progressAtArm = 0;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#state.kind === "stopped" || this.#intervalTimer !== null) return;
    this.#intervalTimer = this.#options.clock.setTimeout(() => this.#onInterval(), this.#options.intervalMs);
  }

  stop(): void {
    this.#state = { kind: "stopped" };
    this.#clearTimers();
  }

  notePong(): void {
    if (this.#state.kind !== "waitingForPong") return;
    this.#state = { kind: "idle" };
    if (this.#deadlineTimer !== null) this.#options.clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = null;
  }

  #onInterval(): void {
    this.#intervalTimer = null;
    if (this.#state.kind === "stopped") return;
    if (this.#state.kind === "idle") {
      this.#state = { kind: "waitingForPong" };
      this.#armDeadline();
      this.#options.sendPing();
    }
    if (this.#isStopped()) return;
    this.#intervalTimer = this.#options.clock.setTimeout(() => this.#onInterval(), this.#options.intervalMs);
  }

  #armDeadline(): void {
    this.#progressAtArm = this.#options.progress?.() ?? 0;
    this.#deadlineTimer = this.#options.clock.setTimeout(() => this.#onDeadline(), this.#options.timeoutMs);
  }

  #onDeadline(): void {
    this.#deadlineTimer = null;
    if (this.#state.kind !== "waitingForPong") return;
    const progressed = (this.#options.progress?.() ?? 0) !== this.#progressAtArm;
    if (this.#options.isInboundPaused?.() === true || progressed) {
      this.#armDeadline();
      return;
    }
    this.stop();
    this.#options.onTimeout();
  }

  #isStopped(): boolean {
    return this.#state.kind === "stopped";
  }

  #clearTimers(): void {
    const { clock } = this.#options;
    if (this.#intervalTimer !== null) clock.clearTimeout(this.#intervalTimer);
    if (this.#deadlineTimer !== null) clock.clearTimeout(this.#deadlineTimer);
    this.#intervalTimer = null;
    this.#deadlineTimer = null;
  }
}
