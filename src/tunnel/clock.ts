/**
 * Injectable time for the tunnel engine (house style: time and randomness are parameters).
 * `defer` runs a callback after the current batch of I/O callbacks (setImmediate by default);
 * the frame writer uses it to coalesce many frames into one transport write.
 */

export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  defer(callback: () => void): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  defer: (callback) => {
    setImmediate(callback);
  },
};
