import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  allocateGatewayPorts,
  type GatewayPortRecord,
  gatewayPortRecords,
  type PortAllocation,
  podOwnerKey,
} from "../../../src/controller/allocate-ports.ts";
import { aPortForward, aService } from "../../support/builders.ts";

const RANGE = { min: 20000, max: 20009 };

function gatewayPorts(result: ReturnType<typeof allocateGatewayPorts>): number[] {
  assert.equal(result.ok, true, result.ok ? "" : result.message);
  return result.ok ? result.ports.map((p) => p.gatewayPort) : [];
}

describe("allocateGatewayPorts", () => {
  it("keeps the gateway port the existing Service already targets", () => {
    const records: GatewayPortRecord[] = [{ owner: "default/web", port: 80, gatewayPort: 20007 }];
    assert.deepEqual(gatewayPorts(allocateGatewayPorts("default/web", [{ port: 80 }], records, RANGE)), [20007]);
  });

  it("is deterministic for a new PortForward", () => {
    const a = allocateGatewayPorts("default/web", [{ port: 80 }, { port: 443 }], [], RANGE);
    const b = allocateGatewayPorts("default/web", [{ port: 80 }, { port: 443 }], [], RANGE);
    assert.deepEqual(a, b);
  });

  it("never takes a port claimed by another PortForward", () => {
    const records: GatewayPortRecord[] = Array.from({ length: 9 }, (_, i) => ({
      owner: `ns/other-${i}`,
      port: 80,
      gatewayPort: 20000 + i,
    }));
    assert.deepEqual(gatewayPorts(allocateGatewayPorts("default/web", [{ port: 80 }], records, RANGE)), [20009]);
  });

  it("reports PortsExhausted when the range is full", () => {
    const records: GatewayPortRecord[] = Array.from({ length: 10 }, (_, i) => ({
      owner: `ns/other-${i}`,
      port: 80,
      gatewayPort: 20000 + i,
    }));
    const result = allocateGatewayPorts("default/web", [{ port: 80 }], records, RANGE);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.reason, "PortsExhausted");
    assert.match(!result.ok ? result.message : "", /All 10 gateway ports \(20000-20009\) are in use/);
  });

  it("moves a claim out of the configured range back into it", () => {
    const records: GatewayPortRecord[] = [{ owner: "default/web", port: 80, gatewayPort: 31000 }];
    const [port] = gatewayPorts(allocateGatewayPorts("default/web", [{ port: 80 }], records, RANGE));
    assert.ok(port! >= RANGE.min && port! <= RANGE.max);
  });

  it("resolves a raced double claim in favour of the older Service, on both sides", () => {
    const records: GatewayPortRecord[] = [
      { owner: "default/new", port: 80, gatewayPort: 20003, since: 2000 },
      { owner: "default/old", port: 80, gatewayPort: 20003, since: 1000 },
    ];
    assert.deepEqual(gatewayPorts(allocateGatewayPorts("default/old", [{ port: 80 }], records, RANGE)), [20003]);
    const moved = gatewayPorts(allocateGatewayPorts("default/new", [{ port: 80 }], records, RANGE));
    assert.notEqual(moved[0], 20003);
  });

  it("carries port names into the allocation", () => {
    const result = allocateGatewayPorts("default/web", [{ name: "http", port: 80 }], [], RANGE);
    assert.equal(result.ok && result.ports[0]?.name, "http");
  });

  it("property: allocations across many PortForwards never collide and are stable when replayed", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.stringMatching(/^[a-z]{1,6}$/),
            ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 4 }),
          }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (forwards) => {
          const range = { min: 30000, max: 30099 };
          const unique = [...new Map(forwards.map((f) => [f.name, f])).values()];
          const records: GatewayPortRecord[] = [];
          const allocated = new Map<string, PortAllocation[]>();
          for (const forward of unique) {
            const owner = `ns/${forward.name}`;
            const result = allocateGatewayPorts(
              owner,
              forward.ports.map((port) => ({ port })),
              records,
              range,
            );
            if (!result.ok) return;
            allocated.set(owner, result.ports);
            for (const p of result.ports) records.push({ owner, port: p.port, gatewayPort: p.gatewayPort });
          }
          const all = records.map((r) => r.gatewayPort);
          assert.equal(new Set(all).size, all.length, "a gateway port was given twice");
          for (const [owner, ports] of allocated) {
            const again = allocateGatewayPorts(
              owner,
              ports.map((p) => ({ port: p.port })),
              records,
              range,
            );
            assert.deepEqual(again.ok && again.ports, ports, "a replayed allocation changed");
          }
        },
      ),
    );
  });
});

describe("gatewayPortRecords", () => {
  it("reads port → targetPort of managed Services, attributed to the controlling PortForward", () => {
    const pf = aPortForward("web", "team-a").build();
    const services = [
      aService("web", "team-a")
        .ownedBy(pf)
        .withCreationTimestamp("2026-01-01T00:00:00Z")
        .withPorts({ name: "http", port: 80, targetPort: 20001 }, { name: "named", port: 81, targetPort: "x" })
        .build(),
      aService("unmanaged", "team-a").withPorts({ port: 80, targetPort: 20002 }).build(),
    ];
    assert.deepEqual(gatewayPortRecords(services), [
      { owner: "team-a/web", port: 80, gatewayPort: 20001, since: Date.parse("2026-01-01T00:00:00Z") },
    ]);
  });

  it("attributes a per-pod Service's ports to the pod's own owner key, apart from the PortForward's", () => {
    const pf = aPortForward("db", "team-a").build();
    const owned = aService("db-0", "team-a").ownedBy(pf).build();
    const perPod = aService("db-0", "team-a")
      .ownedBy(pf)
      .withLabels({ ...owned.metadata?.labels, "tunnelkeeper.io/pod": "db-0" })
      .withPorts({ port: 5432, targetPort: 20005 })
      .build();
    const main = aService("db", "team-a").ownedBy(pf).withPorts({ port: 5432, targetPort: 20001 }).build();
    assert.deepEqual(gatewayPortRecords([main, perPod]), [
      { owner: "team-a/db", port: 5432, gatewayPort: 20001 },
      { owner: podOwnerKey("team-a/db", "db-0"), port: 5432, gatewayPort: 20005 },
    ]);
    assert.equal(podOwnerKey("team-a/db", "db-0"), "team-a/db/db-0");
    // The PortForward keeps its own port: the pod's claim on the same spec port is another owner's.
    assert.deepEqual(gatewayPorts(allocateGatewayPorts("team-a/db", [{ port: 5432 }], gatewayPortRecords([perPod, main]), RANGE)), [20001]);
  });
});
