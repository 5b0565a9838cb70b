import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Keepalive } from "../../../src/tunnel/keepalive.ts";
import { FakeClock } from "./fake-clock.ts";

function setup(paused = { value: false }, progress = { value: 0 }) {
  const clock = new FakeClock();
  const events: string[] = [];
  const keepalive = new Keepalive({
    clock,
    intervalMs: 10_000,
    timeoutMs: 20_000,
    sendPing: () => events.push(`ping@${clock.now()}`),
    onTimeout: () => events.push(`timeout@${clock.now()}`),
    isInboundPaused: () => paused.value,
    progress: () => progress.value,
  });
  return { clock, events, keepalive, paused, progress };
}

describe("Keepalive", () => {
  it("starts nothing in the constructor", () => {
    const { clock } = setup();
    assert.equal(clock.pendingTimers, 0);
  });

  it("pings every interval while pongs come back", () => {
    const { clock, events, keepalive } = setup();
    keepalive.start();
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      keepalive.notePong();
    }
    assert.deepEqual(events, ["ping@10000", "ping@20000", "ping@30000"]);
  });

  it("declares the peer dead once a ping stays unanswered for the timeout, and stops", () => {
    const { clock, events, keepalive } = setup();
    keepalive.start();
    clock.advance(60_000);
    assert.deepEqual(events, ["ping@10000", "timeout@30000"]);
    assert.equal(clock.pendingTimers, 0);
  });

  it("does not declare the peer dead while we pause reading; the deadline restarts", () => {
    const { clock, events, keepalive, paused } = setup();
    keepalive.start();
    paused.value = true;
    clock.advance(100_000);
    assert.deepEqual(events, ["ping@10000"]);
    paused.value = false;
    clock.advance(20_000);
    assert.deepEqual(events, ["ping@10000", "timeout@110000"]);
  });

  it("does not declare the peer dead while bytes keep moving; a full timeout without pong or progress does", () => {
    const { clock, events, keepalive, progress } = setup();
    keepalive.start();
    // A slow upload: the pong waits behind buffered data, but sends keep completing.
    for (let t = 0; t < 100_000; t += 5_000) {
      clock.advance(5_000);
      progress.value += 64 * 1024;
    }
    assert.deepEqual(events, ["ping@10000"]);
    // The upload stops and nothing comes back: dead after one more full timeout.
    clock.advance(40_000);
    assert.deepEqual(events, ["ping@10000", "timeout@130000"]);
  });

  it("stop() clears every timer", () => {
    const { clock, keepalive } = setup();
    keepalive.start();
    clock.advance(10_000);
    keepalive.stop();
    assert.equal(clock.pendingTimers, 0);
  });
});
