/**
 * Leader election on a `coordination.k8s.io/v1` Lease, after client-go's leaderelection.
 *
 * Durations (controller-runtime defaults, pkg/manager/manager.go):
 * - leaseDuration 15 s: how long non-leaders wait, after last seeing the Lease change, before they
 *   may take it over. Measured on the *local* clock from when this replica observed the change, so
 *   clock skew between replicas does not matter (client-go `observedTime`).
 * - renewDeadline 10 s: a leader that has not renewed successfully for this long steps down. It
 *   must be shorter than leaseDuration so the old leader stops before anyone else may start.
 * - retryPeriod 2 s: interval between attempts (jittered by up to +120 % while not leading, as
 *   client-go's JitterFactor 1.2, so candidates do not hammer the API server in lock-step).
 *
 * Guarantees and caveats:
 * - Writes use the observed `resourceVersion` (optimistic concurrency): of two candidates updating
 *   the same Lease, one gets 409 Conflict and simply retries later.
 * - `onStartedLeading(signal)` runs while leading; `signal` aborts when leadership ends (lost, or
 *   shutdown). Its promise is awaited before the Lease is released, so work drains first.
 * - On graceful shutdown the Lease is released (empty holderIdentity, leaseDurationSeconds 1,
 *   renewTime now): another replica takes over at its next retry instead of after 15 s.
 * - On lost leadership `start` rejects with `LeaderElectionError` (`PF_ERR_LEADERSHIP_LOST`); the
 *   process should exit and restart (controller-runtime does the same) rather than risk two leaders.
 */
import { randomBytes } from "node:crypto";
import { type Clock, sleep, systemClock } from "./clock.ts";

/** The Lease fields that matter, with times as epoch milliseconds. */
export interface LeaseRecord {
  /** "" when nobody holds the Lease (released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number | undefined;
  renewTime: number | undefined;
  leaseTransitions: number;
  /** Set on records read from the API server; required for updates. */
  resourceVersion?: string;
}

/** Lease access; `update` must send `resourceVersion` and fail with 409 on a stale one. */
export interface LeaseClient {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

export interface DecisionInput {
  /** The Lease as last read, or undefined when it does not exist. */
  observed: LeaseRecord | undefined;
  /** Local time at which `observed` was first seen in its current form. */
  observedAt: number;
  now: number;
  identity: string;
  leaseDurationSeconds: number;
}

export type LeaderDecision =
  | { readonly action: "create"; readonly record: LeaseRecord }
  | { readonly action: "acquire"; readonly record: LeaseRecord }
  | { readonly action: "renew"; readonly record: LeaseRecord }
  | { readonly action: "wait"; readonly holder: string; readonly expiresAt: number };

/**
 * What to do with the Lease. Pure.
 * - none → create it, holding it;
 * - held by us → renew (keep acquireTime, bump renewTime);
 * - released ("" holder) or not changed for the holder's leaseDuration → acquire (new acquireTime,
 *   leaseTransitions + 1);
 * - otherwise → wait until `expiresAt` (local clock).
 */
export function decideLease(input: DecisionInput): LeaderDecision {
  const { observed, observedAt, now, identity, leaseDurationSeconds } = input;
  if (observed === undefined) {
    return {
      action: "create",
      record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
  }
  if (observed.holderIdentity === identity) {
    return {
      action: "renew",
      record: { ...observed, leaseDurationSeconds, acquireTime: observed.acquireTime ?? now, renewTime: now },
    };
  }
  const expiresAt = observedAt + observed.leaseDurationSeconds * 1000;
  if (observed.holderIdentity !== "" && now < expiresAt) {
    return { action: "wait", holder: observed.holderIdentity, expiresAt };
  }
  return {
    action: "acquire",
    record: {
      ...observed,
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: observed.leaseTransitions + 1,
    },
  };
}

/** The record written on graceful release. */
export function releasedRecord(current: LeaseRecord, now: number): LeaseRecord {
  return { ...current, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
}

/** `<podName>_<8 hex chars>`: unique per process even when a pod name is reused. */
export function leaderIdentity(podName: string, random: () => Buffer = () => randomBytes(4)): string {
  return `${podName}_${random().toString("hex")}`;
}

export class LeaderElectionError extends Error {
  readonly code = "PF_ERR_LEADERSHIP_LOST";
}

export interface LeaderElectionObserver {
  /** An attempt failed (API error or conflict); the elector retries. */
  attemptFailed?(error: unknown): void;
  /** Another holder has the Lease. Reported when the holder changes. */
  newLeader?(holder: string): void;
  released?(): void;
  releaseFailed?(error: unknown): void;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  identity: string;
  onStartedLeading: (signal: AbortSignal) => Promise<void>;
  onStoppedLeading?: () => void;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  random?: () => number;
  observer?: LeaderElectionObserver;
}

export class LeaderElector {
  readonly identity: string;
  readonly #client: LeaseClient;
  readonly #options: LeaderElectorOptions;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  #observed: LeaseRecord | undefined;
  #observedAt = 0;
  #lastHolder: string | undefined;
  #leading = false;

  constructor(options: LeaderElectorOptions) {
    this.identity = options.identity;
    this.#client = options.client;
    this.#options = options;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs)) {
      throw new RangeError("Leader election needs leaseDuration > renewDeadline > retryPeriod");
    }
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Campaigns until leading, leads until `signal` aborts or leadership is lost. Resolves after a
   * graceful shutdown (Lease released); rejects with `LeaderElectionError` when leadership is lost,
   * or with the error `onStartedLeading` rejected with.
   */
  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) break;
      await sleep(this.#clock, this.#retryPeriodMs * (1 + this.#random() * 1.2), signal);
    }
    if (signal.aborted) return;
    await this.#lead(signal);
  }

  async #lead(signal: AbortSignal): Promise<void> {
    this.#leading = true;
    const leading = new AbortController();
    const stopLeading = (): void => leading.abort();
    signal.addEventListener("abort", stopLeading, { once: true });
    let workFailure: { error: unknown } | undefined;
    const work = this.#options.onStartedLeading(leading.signal).then(
      () => undefined,
      (error: unknown) => {
        workFailure = { error };
        leading.abort();
      },
    );
    let lost = false;
    let lastRenew = this.#clock.now();
    try {
      while (!leading.signal.aborted) {
        await sleep(this.#clock, this.#retryPeriodMs, leading.signal);
        if (leading.signal.aborted) break;
        if (await this.#tryAcquireOrRenew()) {
          lastRenew = this.#clock.now();
        } else if (this.#clock.now() - lastRenew >= this.#renewDeadlineMs) {
          lost = true;
          leading.abort();
        }
      }
      await work;
    } finally {
      signal.removeEventListener("abort", stopLeading);
      this.#leading = false;
    }
    if (!lost) await this.#release();
    this.#options.onStoppedLeading?.();
    if (workFailure !== undefined) throw workFailure.error;
    if (lost) throw new LeaderElectionError(`Lost the leader Lease: not renewed for ${this.#renewDeadlineMs} ms`);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    try {
      const observed = await this.#client.get();
      const now = this.#clock.now();
      this.#observe(observed, now);
      const decision = decideLease({
        observed,
        observedAt: this.#observedAt,
        now,
        identity: this.identity,
        leaseDurationSeconds: Math.round(this.#leaseDurationMs / 1000),
      });
      if (decision.action === "wait") return false;
      const written =
        decision.action === "create"
          ? await this.#client.create(decision.record)
          : await this.#client.update({ ...decision.record, resourceVersion: observed?.resourceVersion });
      this.#observe(written, this.#clock.now());
      return true;
    } catch (error) {
      this.#options.observer?.attemptFailed?.(error);
      return false;
    }
  }

  #observe(record: LeaseRecord | undefined, now: number): void {
    const previous = this.#observed;
    const changed =
      previous === undefined ||
      record === undefined ||
      previous.holderIdentity !== record.holderIdentity ||
      previous.renewTime !== record.renewTime ||
      previous.resourceVersion !== record.resourceVersion;
    if (changed) this.#observedAt = now;
    this.#observed = record;
    const holder = record?.holderIdentity;
    if (holder !== undefined && holder !== "" && holder !== this.#lastHolder && holder !== this.identity) {
      this.#options.observer?.newLeader?.(holder);
    }
    this.#lastHolder = holder;
  }

  async #release(): Promise<void> {
    const current = this.#observed;
    if (current === undefined || current.holderIdentity !== this.identity) return;
    try {
      this.#observed = await this.#client.update(releasedRecord(current, this.#clock.now()));
      this.#options.observer?.released?.();
    } catch (error) {
      // Not fatal: the Lease then expires after leaseDuration and another replica takes over.
      this.#options.observer?.releaseFailed?.(error);
    }
  }
}
