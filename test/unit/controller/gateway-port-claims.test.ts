import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { GatewayPortRecord } from "../../../src/controller/allocate-ports.ts";
import { claimsOf, GatewayPortRecordIndex } from "../../../src/controller/gateway-port-claims.ts";

const record = (owner: string, port: number, gatewayPort: number): GatewayPortRecord => ({ owner, port, gatewayPort });

describe("claimsOf", () => {
  it("finds a list's claims by owner and by gateway port, in list order", () => {
    const records = [record("ns/a", 80, 20001), record("ns/b", 80, 20002), record("ns/a", 443, 20002)];
    const claims = claimsOf(records);
    assert.deepEqual(claims.ownedBy("ns/a"), [records[0], records[2]]);
    assert.deepEqual(claims.on(20002), [records[1], records[2]]);
    assert.deepEqual(claims.on(20003), []);
    assert.deepEqual(claims.ownedBy("ns/c"), []);
    assert.equal(claims.all(), records);
  });
});

describe("GatewayPortRecordIndex", () => {
  it("replaces and removes a source's records in every index", () => {
    const index = new GatewayPortRecordIndex();
    index.set("svc/a", [record("ns/a", 80, 20001)]);
    index.set("svc/b", [record("ns/b", 80, 20002)]);
    index.set("svc/a", [record("ns/a", 80, 20003)]);
    assert.deepEqual(index.on(20001), [], "the replaced record is gone");
    assert.deepEqual(
      index.on(20003).map((e) => e.source),
      ["svc/a"],
    );
    assert.deepEqual(
      index.all().map((e) => e.source),
      ["svc/a", "svc/b"],
      "a replaced source keeps its place",
    );
    index.set("svc/a", []);
    assert.equal(index.hasOwner("ns/a"), false, "no records: the source is removed");
    index.delete("svc/b");
    assert.deepEqual(index.all(), []);
    assert.equal(index.hasOwner("ns/b"), false);
  });

  it("after any sequence of changes, answers as an index of its whole list would", () => {
    const op = fc.record({
      source: fc.constantFrom("s1", "s2", "s3", "s4"),
      records: fc.array(
        fc.record({
          owner: fc.constantFrom("ns/a", "ns/b", "ns/c"),
          port: fc.constantFrom(80, 443),
          gatewayPort: fc.integer({ min: 20000, max: 20004 }),
        }),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        const index = new GatewayPortRecordIndex();
        const model = new Map<string, readonly GatewayPortRecord[]>();
        for (const { source, records } of ops) {
          index.set(source, records);
          if (records.length === 0) model.delete(source);
          else model.set(source, records);
        }
        const list = [...model].flatMap(([source, records]) => records.map((r) => ({ source, record: r })));
        assert.deepEqual(index.all(), list);
        for (const owner of ["ns/a", "ns/b", "ns/c"]) {
          assert.deepEqual(
            index.ownedBy(owner),
            list.filter((e) => e.record.owner === owner),
          );
          assert.equal(
            index.hasOwner(owner),
            list.some((e) => e.record.owner === owner),
          );
        }
        for (let gatewayPort = 20000; gatewayPort <= 20004; gatewayPort++) {
          assert.deepEqual(
            index.on(gatewayPort),
            list.filter((e) => e.record.gatewayPort === gatewayPort),
          );
        }
      }),
    );
  });
});
