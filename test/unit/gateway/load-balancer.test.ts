import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pickTarget } from "../../../src/gateway/load-balancer.ts";

const pods = (...spec: [string, number][]) => spec.map(([pod, activeConnections]) => ({ pod, activeConnections }));

describe("pickTarget", () => {
  it("returns nothing without candidates", () => {
    assert.equal(pickTarget([], "RoundRobin", undefined), undefined);
  });

  it("RoundRobin visits every pod in name order and wraps", () => {
    const candidates = pods(["a", 0], ["b", 0], ["c", 0]);
    const picked: string[] = [];
    let last: string | undefined;
    for (let i = 0; i < 7; i++) {
      last = pickTarget(candidates, "RoundRobin", last)?.pod;
      picked.push(last ?? "-");
    }
    assert.deepEqual(picked, ["a", "b", "c", "a", "b", "c", "a"]);
  });

  it("RoundRobin continues after the last pick even when that pod is gone", () => {
    assert.equal(pickTarget(pods(["a", 0], ["c", 0]), "RoundRobin", "b")?.pod, "c");
    assert.equal(pickTarget(pods(["a", 0], ["c", 0]), "RoundRobin", "d")?.pod, "a");
  });

  it("LeastConnections picks the least loaded, ties in round-robin order", () => {
    assert.equal(pickTarget(pods(["a", 3], ["b", 1], ["c", 2]), "LeastConnections", undefined)?.pod, "b");
    assert.equal(pickTarget(pods(["a", 1], ["b", 1], ["c", 1]), "LeastConnections", "a")?.pod, "b");
  });

  it("First always picks the first pod by name", () => {
    assert.equal(pickTarget(pods(["a", 9], ["b", 0]), "First", "a")?.pod, "a");
  });
});
