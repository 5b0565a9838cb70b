import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePortForward } from "../../../src/api/portforward.ts";
import { tryParseDurationMs } from "../../../src/api/validation.ts";
import { aPortForward } from "../../support/builders.ts";
import { SAMPLES } from "./samples.ts";

describe("PortForward zod schema", () => {
  for (const sample of SAMPLES) {
    it(`${sample.valid ? "accepts" : "rejects"} ${sample.name}`, () => {
      const result = parsePortForward(sample.object);
      assert.equal(result.ok, sample.valid, result.ok ? "accepted" : result.error.message);
      if (!result.ok && sample.message) {
        assert.match(result.error.message, new RegExp(sample.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      }
    });
  }

  it("fills in every default of the spec", () => {
    const pf = aPortForward().build();
    assert.deepEqual(pf.spec.service, { type: "ClusterIP", perPod: false });
    assert.equal(pf.spec.loadBalancing, "RoundRobin");
    assert.deepEqual(pf.spec.keepalive, { interval: "10s" });
    assert.equal(pf.spec.protocol, "Auto");
    assert.equal(pf.spec.ports[0]?.protocol, "TCP");
  });

  it("defaults the kubeconfig Secret key", () => {
    const pf = aPortForward()
      .withSpecField("cluster", { kubeconfigSecretRef: { name: "remote" } })
      .build();
    assert.deepEqual(pf.spec.cluster?.kubeconfigSecretRef, { name: "remote", key: "kubeconfig" });
  });

  it("drops unknown fields, as the API server prunes them", () => {
    const pf = aPortForward().withTarget({ pod: "web-0", namespace: "other" }).build();
    assert.deepEqual(pf.spec.target, { pod: "web-0" });
  });
});

describe("tryParseDurationMs", () => {
  const cases: [string, number | undefined][] = [
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["500ms", 500],
    ["1.5h", 5_400_000],
    ["10", undefined],
    ["", undefined],
    ["-1s", undefined],
    ["1d", undefined],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)} as ${expected}`, () => {
      assert.equal(tryParseDurationMs(text), expected);
    });
  }
});
