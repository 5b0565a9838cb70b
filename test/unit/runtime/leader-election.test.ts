import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DecisionInput,
  decideLease,
  type LeaderDecision,
  LeaderElector,
  type LeaseClient,
  type LeaseRecord,
  leaderIdentity,
  releasedRecord,
} from "../../../src/runtime/leader-election.ts";
import { FakeClock, flush } from "../../support/fake-clock.ts";

const T = 1_000_000;
const held = (holder: string, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: T - 60_000,
  renewTime: T - 1000,
  leaseTransitions: 3,
  resourceVersion: "7",
  ...extra,
});

describe("decideLease", () => {
  const me = "controller-0_aa";
  const rows: Array<{ name: string; input: Omit<DecisionInput, "identity" | "leaseDurationSeconds">; want: LeaderDecision }> = [
    {
      name: "no Lease: create it holding it",
      input: { observed: undefined, observedAt: T, now: T },
      want: {
        action: "create",
        record: { holderIdentity: me, leaseDurationSeconds: 15, acquireTime: T, renewTime: T, leaseTransitions: 0 },
      },
    },
    {
      name: "held by us: renew, keeping acquireTime and transitions",
      input: { observed: held(me), observedAt: T - 1000, now: T },
      want: { action: "renew", record: { ...held(me), renewTime: T } },
    },
    {
      name: "held by another and seen changing 14.999 s ago: wait",
      input: { observed: held("other"), observedAt: T - 14_999, now: T },
      want: { action: "wait", holder: "other", expiresAt: T + 1 },
    },
    {
      name: "held by another and unchanged for the lease duration: acquire",
      input: { observed: held("other"), observedAt: T - 15_000, now: T },
      want: { action: "acquire", record: { ...held("other"), holderIdentity: me, acquireTime: T, renewTime: T, leaseTransitions: 4 } },
    },
    {
      name: "released (empty holder): acquire at once",
      input: { observed: held("", { leaseDurationSeconds: 1 }), observedAt: T, now: T },
      want: { action: "acquire", record: { ...held(""), holderIdentity: me, acquireTime: T, renewTime: T, leaseTransitions: 4 } },
    },
    {
      name: "expiry uses the holder's leaseDurationSeconds and the local observation time, not renewTime",
      input: { observed: held("other", { leaseDurationSeconds: 60, renewTime: T - 3_600_000 }), observedAt: T - 30_000, now: T },
      want: { action: "wait", holder: "other", expiresAt: T + 30_000 },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(decideLease({ ...row.input, identity: me, leaseDurationSeconds: 15 }), row.want);
    });
  }

  it("release empties the holder and shortens the lease", () => {
    assert.deepEqual(releasedRecord(held(me), T), {
      ...held(me),
      holderIdentity: "",
      leaseDurationSeconds: 1,
      renewTime: T,
      acquireTime: T,
    });
  });

  it("identity is the pod name plus a random suffix", () => {
    assert.equal(
      leaderIdentity("controller-0", () => Buffer.from([0xde, 0xad, 0xbe, 0xef])),
      "controller-0_deadbeef",
    );
  });
});

/** An in-memory Lease with resourceVersion checks, standing in for one Lease object. */
class MemoryLease implements LeaseClient {
  record: LeaseRecord | undefined;
  version = 0;
  failing = false;
  updates = 0;
  async get(): Promise<LeaseRecord | undefined> {
    if (this.failing) throw new Error("apiserver unreachable");
    return this.record === undefined ? undefined : { ...this.record };
  }
  async create(record: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) throw new Error("apiserver unreachable");
    if (this.record !== undefined) throw Object.assign(new Error("exists"), { code: 409 });
    this.record = { ...record, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
  async update(record: LeaseRecord): Promise<LeaseRecord> {
    if (this.failing) throw new Error("apiserver unreachable");
    if (record.resourceVersion !== this.record?.resourceVersion) throw Object.assign(new Error("conflict"), { code: 409 });
    this.updates++;
    this.record = { ...record, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
}

describe("LeaderElector", () => {
  it("acquires, leads, and releases the Lease on graceful shutdown after the work drained", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const order: string[] = [];
    const elector = new LeaderElector({
      client: lease,
      identity: "a",
      clock,
      random: () => 0,
      onStartedLeading: async (signal) => {
        order.push("started");
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        order.push("drained");
      },
      onStoppedLeading: () => order.push("stopped"),
    });
    const controller = new AbortController();
    const running = elector.start(controller.signal);
    await flush();
    assert.equal(elector.isLeader, true);
    assert.equal(lease.record?.holderIdentity, "a");
    await clock.advance(2000);
    assert.equal(lease.updates, 1, "renewed every retryPeriod");
    controller.abort();
    await running;
    assert.deepEqual(order, ["started", "drained", "stopped"]);
    assert.equal(lease.record?.holderIdentity, "", "released");
    assert.equal(elector.isLeader, false);
  });

  it("waits while another replica holds a live Lease and takes over when it is released", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    lease.record = { ...held("b"), resourceVersion: "1" };
    let started = false;
    const elector = new LeaderElector({
      client: lease,
      identity: "a",
      clock,
      random: () => 0,
      onStartedLeading: async () => {
        started = true;
      },
    });
    const controller = new AbortController();
    const running = elector.start(controller.signal);
    await clock.advance(10_000);
    assert.equal(started, false);
    lease.record = releasedRecord(lease.record, clock.now());
    lease.record.resourceVersion = "2";
    await clock.advance(2000);
    assert.equal(started, true);
    assert.equal(lease.record?.holderIdentity, "a");
    assert.equal(lease.record?.leaseTransitions, 4);
    controller.abort();
    await running;
  });

  it("steps down and rejects when it cannot renew within renewDeadline", async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    let leadingSignal: AbortSignal | undefined;
    const elector = new LeaderElector({
      client: lease,
      identity: "a",
      clock,
      random: () => 0,
      onStartedLeading: async (signal) => {
        leadingSignal = signal;
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      },
    });
    const running = elector.start(new AbortController().signal);
    const outcome = assert.rejects(running, { code: "PF_ERR_LEADERSHIP_LOST" });
    await flush();
    lease.failing = true;
    await clock.advance(8000);
    assert.equal(leadingSignal?.aborted, false, "still inside renewDeadline");
    await clock.advance(2000);
    await outcome;
    assert.equal(leadingSignal?.aborted, true);
  });

  it("rejects bad duration ordering", () => {
    assert.throws(
      () => new LeaderElector({ client: new MemoryLease(), identity: "a", onStartedLeading: async () => {}, leaseDurationMs: 5000 }),
      RangeError,
    );
  });
});
