/**
 * One client TCP connection spliced to one forwarded connection on a tunnel.
 *
 * Contracts:
 * - Backpressure both ways: the reader is paused whenever the writer's `write()` returns false
 *   and resumed on the writer's 'drain', so no side buffers more than its high-water mark.
 * - Half-close: a FIN from either side is forwarded and the other side may go on sending.
 *   Runtimes end a forwarded connection about 1 s after one direction ends (containerd), and
 *   some never propagate a FIN at all (KWOK), so once either side has ended, the session closes
 *   after `halfCloseGraceMs` without bytes in the direction still open. (A client that keeps
 *   its side open after the pod's FIN would otherwise hold the session forever.)
 * - Failure stays local: an error on either side destroys both sides of *this* session and is
 *   reported as its outcome; the listener, the tunnel and other sessions are untouched. A pod-side
 *   failure resets the client connection (RST), so the client sees an error, not a clean EOF.
 *
 *   open ──client FIN──▶ clientEnded ──pod FIN / grace──▶ closed
 *     └───── pod FIN ──▶ podEnded ──client FIN / grace──▶ closed
 *   any ──error──▶ closed(error)
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type Clock, systemClock, type TimerHandle } from "../runtime/clock.ts";

export type SessionOutcome =
  | { readonly kind: "completed" }
  | { readonly kind: "client_error"; readonly error: Error }
  | { readonly kind: "upstream_error"; readonly error: Error };

type SessionState = "open" | "clientEnded" | "podEnded" | "closed";

export interface SpliceOptions {
  readonly halfCloseGraceMs: number;
  /** Payload bytes moved: `up` client → pod, `down` pod → client. */
  readonly onBytes?: (direction: "up" | "down", bytes: number) => void;
  /** Times the half-close grace; default the system clock (whose timers never keep the process alive). */
  readonly clock?: Clock;
}

export const DEFAULT_HALF_CLOSE_GRACE_MS = 1_000;

export function spliceConnection(client: Socket, upstream: Duplex, options: SpliceOptions): Promise<SessionOutcome> {
  const clock = options.clock ?? systemClock;
  return new Promise((resolve) => {
    let state: SessionState = "open";
    let graceTimer: TimerHandle | undefined;
    const clearGrace = () => {
      if (graceTimer !== undefined) clock.clearTimeout(graceTimer);
      graceTimer = undefined;
    };

    const finish = (outcome: SessionOutcome) => {
      if (state === "closed") return;
      state = "closed";
      clearGrace();
      if (outcome.kind === "upstream_error") client.resetAndDestroy();
      else client.destroy();
      upstream.destroy();
      resolve(outcome);
    };
    const armGrace = () => {
      clearGrace();
      graceTimer = clock.setTimeout(() => finish({ kind: "completed" }), options.halfCloseGraceMs);
    };

    client.on("error", (error) => finish({ kind: "client_error", error }));
    upstream.on("error", (error: Error) => finish({ kind: "upstream_error", error }));
    // The splice is written out rather than two `pipe()`s: one listener per event and direction
    // (pipe adds ten closures per direction, which with the ones below were ~20 closures and
    // their contexts per connection, a large part of the ~12 KiB each that a gateway holding
    // 10,000 connections kept on its heap: docs/benchmarks.md, "Lean processes").
    const onBytes = options.onBytes;
    client.on("data", (chunk: Buffer) => {
      onBytes?.("up", chunk.length);
      if (state === "podEnded") armGrace();
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("data", (chunk: Buffer) => {
      onBytes?.("down", chunk.length);
      if (state === "clientEnded") armGrace();
      if (!client.write(chunk)) upstream.pause();
    });
    upstream.on("drain", () => client.resume());
    client.on("drain", () => upstream.resume());
    // A FIN is forwarded only while the session goes on: the second FIN closes it instead.
    client.on("end", () => {
      if (state === "podEnded") finish({ kind: "completed" });
      else if (state === "open") {
        state = "clientEnded";
        armGrace();
        upstream.end();
      }
    });
    upstream.on("end", () => {
      if (state === "clientEnded") finish({ kind: "completed" });
      else if (state === "open") {
        state = "podEnded";
        armGrace();
        client.end();
      }
    });
    client.on("close", () => finish({ kind: "completed" }));
    upstream.on("close", () => {
      // A pod-side close after its FIN has been forwarded completes the session once the
      // client's write side has flushed; without a FIN it is an abrupt end.
      if (state === "podEnded" || state === "clientEnded") client.end(() => finish({ kind: "completed" }));
      else if (state === "open")
        finish({ kind: "upstream_error", error: new Error("the forwarded connection closed without end of stream") });
    });
  });
}
