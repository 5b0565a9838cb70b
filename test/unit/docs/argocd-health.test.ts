// The Argo CD health check (docs/argocd/health.lua) run by a real Lua interpreter against
// PortForward samples. Argo CD runs it with gopher-lua (Lua 5.1); the script keeps to what
// Lua 5.1 and 5.4 share, and lua5.4 is what Debian ships (.ci/run installs it).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Reason } from "../../../src/api/conditions.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const HEALTH = join(ROOT, "docs", "argocd", "health.lua");
const HARNESS = join(import.meta.dirname, "argocd-health-harness.lua");
const LUA = "lua5.4";

/** A Lua table constructor for a JSON-like value (what Argo CD hands the script as `obj`). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value); // JSON string escapes are valid Lua escapes for this data
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(", ")}}`;
  if (typeof value === "object") {
    const fields = Object.entries(value as Record<string, unknown>).map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`);
    return `{${fields.join(", ")}}`;
  }
  throw new Error(`cannot express ${typeof value} in Lua`);
}

interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message?: string;
}

function portForward(generation: number, status?: { observedGeneration?: number; conditions?: Condition[] }): Record<string, unknown> {
  return {
    apiVersion: "tunnelkeeper.io/v1alpha1",
    kind: "PortForward",
    metadata: { name: "api", namespace: "team-a", generation },
    spec: { target: { workload: { kind: "Deployment", name: "api" } }, ports: [{ port: 8080, targetPort: 8080 }] },
    ...(status === undefined ? {} : { status }),
  };
}

const ready = (status: Condition["status"], reason: string, message = ""): Condition => ({ type: "Ready", status, reason, message });
const reconciling = (reason: string, message = ""): Condition => ({ type: "Reconciling", status: "True", reason, message });
const stalled = (reason: string, message = ""): Condition => ({ type: "Stalled", status: "True", reason, message });

const SAMPLES: [string, Record<string, unknown>, "Healthy" | "Progressing" | "Degraded" | "Suspended", RegExp][] = [
  ["no status yet", portForward(1), "Progressing", /Waiting for the tunnelkeeper controller/],
  // What the API server serves before the controller's first status write (the CRD's status default).
  ["not yet reconciled", portForward(1, { observedGeneration: 0 }), "Progressing", /Waiting for the controller to observe generation 1/],
  ["status without conditions", portForward(1, { observedGeneration: 1 }), "Progressing", /Waiting for the Ready condition/],
  [
    "Ready=True for the current generation",
    portForward(3, {
      observedGeneration: 3,
      conditions: [ready("True", "Forwarding", "Service api forwards to 2 ready pods through 2 gateways.")],
    }),
    "Healthy",
    /^Forwarding: Service api forwards/,
  ],
  [
    "Ready=True but a newer generation not yet observed",
    portForward(4, { observedGeneration: 3, conditions: [ready("True", "Forwarding")] }),
    "Progressing",
    /observe generation 4/,
  ],
  [
    "Ready=Unknown on the first reconcile",
    portForward(1, {
      observedGeneration: 1,
      conditions: [ready("Unknown", "Reconciling"), reconciling("Reconciling", "First reconcile.")],
    }),
    "Progressing",
    /^Reconciling/,
  ],
  [
    "Ready=False, pods not ready yet",
    portForward(1, {
      observedGeneration: 1,
      conditions: [ready("False", "NoReadyPods", "0 of 2 pods ready."), reconciling("NoReadyPods", "0 of 2 pods ready.")],
    }),
    "Progressing",
    /^NoReadyPods: 0 of 2/,
  ],
  [
    "Ready=False, no gateway reporting yet",
    portForward(1, { observedGeneration: 1, conditions: [ready("False", "NoGatewayReporting")] }),
    "Progressing",
    /^NoGatewayReporting/,
  ],
  [
    "Ready=False, target missing (may arrive in the same sync)",
    portForward(1, { observedGeneration: 1, conditions: [ready("False", "WorkloadNotFound"), reconciling("WorkloadNotFound")] }),
    "Progressing",
    /WorkloadNotFound/,
  ],
  [
    "Stalled=True, gateway forbidden",
    portForward(2, {
      observedGeneration: 2,
      conditions: [
        ready("False", "Forbidden", "the gateway may not create pods/portforward"),
        stalled("Forbidden", "the gateway may not create pods/portforward"),
      ],
    }),
    "Degraded",
    /^Forbidden: the gateway may not/,
  ],
  [
    "Ready=False with a reason that needs a person, without Stalled",
    portForward(1, { observedGeneration: 1, conditions: [ready("False", "ProtocolUnsupported", "UDP cannot be forwarded")] }),
    "Degraded",
    /^ProtocolUnsupported/,
  ],
  [
    "Ready=False, PortNotExposed",
    portForward(1, { observedGeneration: 1, conditions: [ready("False", "PortNotExposed"), stalled("PortNotExposed")] }),
    "Degraded",
    /PortNotExposed/,
  ],
  [
    "a Stalled left from an older generation",
    portForward(5, { observedGeneration: 4, conditions: [ready("False", "Forbidden"), stalled("Forbidden")] }),
    "Progressing",
    /observe generation 5/,
  ],
  [
    "Ready=False, Suspended (spec.suspend)",
    portForward(2, {
      observedGeneration: 2,
      conditions: [
        ready("False", Reason.Suspended, "spec.suspend is true: the gateways have closed the tunnels."),
        { type: "TunnelConnected", status: "False", reason: Reason.Suspended, message: "spec.suspend is true" },
      ],
    }),
    "Suspended",
    /^Suspended: spec.suspend is true/,
  ],
  [
    "Suspended, but the resume (a newer generation) not yet observed",
    portForward(3, { observedGeneration: 2, conditions: [ready("False", Reason.Suspended)] }),
    "Progressing",
    /observe generation 3/,
  ],
  [
    "Ready=True with some gateways disconnected",
    portForward(1, {
      observedGeneration: 1,
      conditions: [
        ready("True", "Forwarding", "ok."),
        { type: "Degraded", status: "True", reason: "PartiallyConnected", message: "1 of 2 gateways" },
      ],
    }),
    "Healthy",
    /PartiallyConnected: 1 of 2 gateways/,
  ],
];

describe("Argo CD health check (docs/argocd/health.lua)", () => {
  let dir = "";
  before(() => {
    const probe = spawnSync(LUA, ["-v"], { encoding: "utf8" });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `${LUA} is required to test the Argo CD health check (apt-get install -y lua5.4; .ci/run installs it): ${probe.error?.message ?? probe.stderr}`,
      );
    }
    dir = mkdtempSync(join(tmpdir(), "tk-lua-"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  SAMPLES.forEach(([what, obj, status, message], i) => {
    it(`says ${status} for ${what}`, () => {
      const objectFile = join(dir, `object-${i}.lua`);
      writeFileSync(objectFile, `obj = ${toLua(obj)}\n`);
      const output = execFileSync(LUA, [HARNESS, HEALTH, objectFile], { encoding: "utf8" }).trimEnd();
      const [got, ...rest] = output.split("\t");
      assert.equal(got, status, output);
      assert.match(rest.join("\t"), message);
    });
  });

  it("treats as needing a person only reasons the API defines", () => {
    const source = readFileSync(HEALTH, "utf8");
    const table = /local needsPerson = \{([^}]*)\}/.exec(source)?.[1] ?? "";
    const reasons = [...table.matchAll(/(\w+) = true/g)].map((m) => m[1]);
    assert.ok(reasons.length > 0);
    const known = new Set<string>(Object.values(Reason));
    assert.deepEqual(
      reasons.filter((r) => !known.has(r!)),
      [],
    );
  });

  it("uses only Lua 5.1 syntax that gopher-lua (Argo CD) accepts", () => {
    // Lua 5.3/5.4-only syntax: integer division, bitwise operators, goto/labels, <const>/<close>.
    const source = execFileSync("sed", ["-e", "s/--.*$//", HEALTH], { encoding: "utf8" });
    for (const [what, pattern] of [
      ["//", /\/\//],
      ["goto", /\bgoto\b/],
      ["::label::", /::\w+::/],
      ["<const>/<close>", /<(const|close)>/],
      ["bitwise ops", /[^~]~[^=]|<<|>>|&|\|/],
    ] as const) {
      assert.doesNotMatch(source, pattern, `health.lua uses ${what}`);
    }
  });
});
