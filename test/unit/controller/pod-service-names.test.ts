import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_SUFFIX, podNameSuffix, podServiceName, podServiceNames } from "../../../src/controller/pod-service-names.ts";

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

describe("podServiceName", () => {
  const cases: { name: string; service: string; pod: string; expected: string }[] = [
    { name: "a StatefulSet pod gets its ordinal", service: "kafka", pod: "kafka-0", expected: "kafka-0" },
    { name: "the ordinal, whatever the Service is called", service: "brokers", pod: "kafka-12", expected: "brokers-12" },
    { name: "a Deployment pod gets its random suffix", service: "api", pod: "api-7d9f8b6c5-x2k4q", expected: "api-x2k4q" },
    { name: "the last segment after a dot", service: "web", pod: "web.node-a", expected: "web-a" },
    { name: "a pod name without separators is the suffix", service: "web", pod: "standalone", expected: "web-standalone" },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(podServiceName(c.service, c.pod), c.expected));
  }

  it("cuts a long service name (and a '-' it then ends with) so the name stays at most 63 characters", () => {
    const service = `${"a".repeat(60)}-bc`;
    const name = podServiceName(service, "db-123");
    assert.equal(name, `${"a".repeat(59)}-123`);
    assert.equal(name.length, 63);
  });

  it(`replaces a suffix longer than ${MAX_SUFFIX} characters by a hash of the pod name`, () => {
    const pod = `p-${"x".repeat(MAX_SUFFIX + 1)}`;
    const name = podServiceName("svc", pod);
    assert.match(name, /^svc-[0-9a-f]{8}$/);
    assert.notEqual(name, podServiceName("svc", `q-${"x".repeat(MAX_SUFFIX + 1)}`));
  });

  it("always yields a DNS-1035 label of at most 63 characters", () => {
    const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    const pod = fc.stringMatching(/^[a-z0-9]([-.a-z0-9]{0,100}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, pod, (service, podName) => {
        const name = podServiceName(service, podName);
        return name.length <= 63 && DNS1035_LABEL.test(name);
      }),
    );
  });
});

describe("podNameSuffix", () => {
  it("is the StatefulSet ordinal for a pod named <set>-<ordinal>", () => assert.equal(podNameSuffix("db-7"), "7"));
});

describe("podServiceNames", () => {
  it("names each pod once, without collisions, when pods share a suffix", () => {
    const names = podServiceNames("db", ["a-0", "b-0", "c-1"]);
    assert.equal(names.get("a-0"), "db-0", "the first by name keeps the plain name");
    assert.match(names.get("b-0")!, /^db-0-[0-9a-f]{8}$/);
    assert.equal(names.get("c-1"), "db-1");
    assert.equal(new Set(names.values()).size, 3);
  });

  it("leaves the plain name with the pod whose Service already has it", () => {
    const names = podServiceNames("db", ["a-0", "b-0"], new Map([["db-0", "b-0"]]));
    assert.equal(names.get("b-0"), "db-0");
    assert.match(names.get("a-0")!, /^db-0-[0-9a-f]{8}$/);
  });

  it("gives distinct DNS-1035 names to any set of pods", () => {
    const pod = fc.stringMatching(/^[a-z0-9]([-.a-z0-9]{0,40}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.uniqueArray(pod, { maxLength: 20 }), (pods) => {
        const names = [...podServiceNames("service", pods).values()];
        return (
          names.length === pods.length && new Set(names).size === pods.length && names.every((n) => n.length <= 63 && DNS1035_LABEL.test(n))
        );
      }),
    );
  });
});
