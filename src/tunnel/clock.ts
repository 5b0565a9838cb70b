/**
 * Injectable time for the tunnel engine (house style: time and randomness are parameters): the
 * runtime's Clock plus `defer`, which runs a callback after the current batch of I/O callbacks
 * (setImmediate by default); the frame writer uses it to coalesce many frames into one
 * transport write.
 */
import { type Clock as RuntimeClock, systemClock as runtimeSystemClock, type TimerHandle } from "../runtime/clock.ts";

export type { TimerHandle };

export interface Clock extends RuntimeClock {
  defer(callback: () => void): void;
}

export const systemClock: Clock = {
  ...runtimeSystemClock,
  defer: (callback) => {
    setImmediate(callback);
  },
};
