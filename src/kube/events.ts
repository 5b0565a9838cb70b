/**
 * Kubernetes Events (`events.k8s.io/v1`) for transitions only.
 *
 * Deduplication: a second event for the same object (uid, or kind/namespace/name) and reason within
 * `dedupWindowMs` (default 10 min) is not sent, whatever its note. Callers should still emit only on
 * transitions (Connected, PodFailover, Stalled, …); the window is a guard against flapping, not a
 * licence to call `record` on every reconcile.
 *
 * Caveats: dedup state is per process (a restarted or newly elected controller may repeat an
 * event once); the series/count fields of events.k8s.io are not used.
 */
import { type Clock, systemClock } from "../runtime/clock.ts";
import type { KubeConnection } from "./connection.ts";
import { kubeRequest, resourcePath } from "./request.ts";

export type EventType = "Normal" | "Warning";

/** The object an event is about (`regarding`). */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventInput {
  type: EventType;
  /** CamelCase, stable (e.g. `PodFailover`). */
  reason: string;
  /** What the controller did, CamelCase (e.g. `Reconcile`, `Connect`). */
  action: string;
  /** Human-readable; truncated to 1024 bytes as the API requires. */
  note: string;
}

/** The events.k8s.io/v1 Event body we create. */
export interface EventBody {
  apiVersion: "events.k8s.io/v1";
  kind: "Event";
  metadata: { generateName: string; namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: EventType;
  regarding: EventSubject;
}

/** Sends one Event; the default posts to the API server. */
export type CreateEvent = (namespace: string, body: EventBody) => Promise<void>;

export interface EventRecorderOptions {
  /** e.g. `tunnelkeeper.io/controller`. */
  reportingController: string;
  /** This replica, e.g. the pod name. */
  reportingInstance: string;
  createEvent: CreateEvent;
  clock?: Clock;
  dedupWindowMs?: number;
}

const MAX_NOTE_BYTES = 1024;

/** Formats epoch ms as a metav1.MicroTime string (`2006-01-02T15:04:05.000000Z`). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

function truncateNote(note: string): string {
  if (Buffer.byteLength(note) <= MAX_NOTE_BYTES) return note;
  let cut = note.slice(0, MAX_NOTE_BYTES - 3);
  while (Buffer.byteLength(cut) > MAX_NOTE_BYTES - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #windowMs: number;
  /** dedup key → time last sent. */
  readonly #sent = new Map<string, number>();

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#windowMs = options.dedupWindowMs ?? 10 * 60_000;
  }

  /**
   * Creates the event unless an event with the same object and reason was sent within the window.
   * Resolves true when sent, false when deduplicated; rejects when the API call fails (and then the
   * event does not count for dedup).
   */
  async record(subject: EventSubject, input: EventInput): Promise<boolean> {
    const now = this.#clock.now();
    this.#prune(now);
    const key = `${subject.uid ?? `${subject.kind}/${subject.namespace}/${subject.name}`}\u0000${input.reason}`;
    const last = this.#sent.get(key);
    if (last !== undefined && now - last < this.#windowMs) return false;
    const body: EventBody = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      // `<name>-`: the API server validates generateName as a DNS-1123 subdomain prefix, which may
      // end in '-' but not in '.' (a `<name>.` prefix is rejected with 422).
      metadata: { generateName: `${subject.name}-`, namespace: subject.namespace },
      eventTime: formatMicroTime(now),
      reportingController: this.#options.reportingController,
      reportingInstance: this.#options.reportingInstance,
      action: input.action,
      reason: input.reason,
      note: truncateNote(input.note),
      type: input.type,
      regarding: subject,
    };
    this.#sent.set(key, now);
    try {
      await this.#options.createEvent(subject.namespace, body);
    } catch (error) {
      this.#sent.delete(key);
      throw error;
    }
    return true;
  }

  /**
   * Drops the entries older than the window. They are in the order they were sent (a key is only
   * set when absent, after this has run), so the scan stops at the first one still inside it:
   * a controller recording an Event per PortForward no longer walks every Event it ever sent.
   * Correctness does not rest on it: `record` checks each entry's age itself.
   */
  #prune(now: number): void {
    for (const [key, at] of this.#sent) {
      if (now - at < this.#windowMs) return;
      this.#sent.delete(key);
    }
  }
}

/** `CreateEvent` that POSTs to `/apis/events.k8s.io/v1/namespaces/<ns>/events`. */
export function kubeCreateEvent(kubeConfig: KubeConnection): CreateEvent {
  return async (namespace, body) => {
    await kubeRequest(kubeConfig, {
      method: "POST",
      path: resourcePath({ apiVersion: "events.k8s.io/v1", plural: "events", namespace }),
      body,
    });
  };
}
