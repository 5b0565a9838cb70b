import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "../../../src/observability/log.ts";

function capture(format: "json" | "text") {
  const lines: string[] = [];
  const log = createLogger({ format, sink: (line) => lines.push(line), now: () => Date.parse("2026-08-01T14:03:22.123Z") });
  return { log, lines };
}

describe("text log format", () => {
  it("writes one short line: time, level word for warnings and errors, message, key=value pairs", () => {
    const { log, lines } = capture("text");
    log.child({ portforward: "shop/db" }).info("Reconciled PortForward", { ready: true, port: 5432 });
    log.warn("Failed to renew the Lease", { namespace: "tunnelkeeper-system" });
    log.error("Component failed", { component: "gateway", detail: "two words" });
    assert.deepEqual(lines, [
      "14:03:22 Reconciled PortForward portforward=shop/db ready=true port=5432",
      "14:03:22 warning: Failed to renew the Lease namespace=tunnelkeeper-system",
      '14:03:22 error: Component failed component=gateway detail="two words"',
    ]);
  });

  it("shows an error by its message and cause, never its stack", () => {
    const { log, lines } = capture("text");
    log.warn("Watch failed; retrying", { error: new Error("connect ECONNREFUSED", { cause: new Error("socket hang up") }) });
    assert.deepEqual(lines, ['14:03:22 warning: Watch failed; retrying error="connect ECONNREFUSED: socket hang up"']);
  });

  it("redacts credentials as the JSON format does", () => {
    const { log, lines } = capture("text");
    log.info("Loaded kubeconfig", { token: "abc", header: "Bearer xyz" });
    assert.equal(lines[0], '14:03:22 Loaded kubeconfig token=[REDACTED] header="Bearer [REDACTED]"');
  });

  it("keeps JSON the default (the Deployments' format)", () => {
    const lines: string[] = [];
    createLogger({ sink: (line) => lines.push(line) }).info("Started");
    assert.equal((JSON.parse(lines[0]!) as { msg: string }).msg, "Started");
  });
});
