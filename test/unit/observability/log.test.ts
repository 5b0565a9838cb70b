import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, isSensitiveField, REDACTED } from "../../../src/observability/log.ts";

function capture(level: "error" | "warn" | "info" | "debug" = "debug") {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 2, 3, 4, 5) });
  const records = (): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe("Logger", () => {
  it("writes one JSON object per record with ts, level, msg and fields", () => {
    const { logger, lines } = capture();
    logger.info("Applied Service", { service: "ns/web", ports: 2 });
    assert.deepEqual(lines, ['{"ts":"2026-01-02T03:04:05.000Z","level":"info","msg":"Applied Service","service":"ns/web","ports":2}']);
  });

  it("drops records below the configured level", () => {
    const { logger, records } = capture("warn");
    logger.debug("Skipped");
    logger.info("Skipped");
    logger.warn("Kept");
    logger.error("Kept");
    assert.deepEqual(
      records().map((r) => r.level),
      ["warn", "error"],
    );
  });

  it("binds key/values in child loggers, and call fields override bound ones", () => {
    const { logger, records } = capture();
    const child = logger.child({ reconcileId: "r1", portforward: "ns/a" }).child({ portforward: "ns/b" });
    child.info("Reconciled PortForward", { result: "success" });
    const [r] = records();
    assert.equal(r?.reconcileId, "r1");
    assert.equal(r?.portforward, "ns/b");
    assert.equal(r?.result, "success");
  });

  it("redacts credential-like fields at any depth, including bound fields", () => {
    const { logger, records } = capture();
    logger.child({ token: "abc" }).info("Loaded kubeconfig", {
      user: {
        name: "admin",
        password: "hunter2",
        "client-certificate-data": "LS0t",
        "client-key-data": "LS0t",
        authProvider: { config: { "id-token": "eyJ", "refresh-token": "r" } },
      },
      cluster: { "certificate-authority-data": "LS0t", server: "https://k" },
      headers: { Authorization: "Bearer eyJhbGciOi" },
      key: "ns/name",
    });
    const [r] = records();
    assert.deepEqual(r, {
      ts: "2026-01-02T03:04:05.000Z",
      level: "info",
      msg: "Loaded kubeconfig",
      token: REDACTED,
      user: {
        name: "admin",
        password: REDACTED,
        "client-certificate-data": REDACTED,
        "client-key-data": REDACTED,
        authProvider: { config: { "id-token": REDACTED, "refresh-token": REDACTED } },
      },
      cluster: { "certificate-authority-data": REDACTED, server: "https://k" },
      headers: { Authorization: REDACTED },
      key: "ns/name",
    });
  });

  it("masks bearer tokens inside string values and error messages", () => {
    const { logger, lines } = capture();
    logger.error("Failed request", { detail: "sent Authorization: Bearer eyJabc.def-ghi", err: new Error("got Bearer xyz") });
    assert.ok(!lines[0]?.includes("eyJabc"));
    assert.ok(!lines[0]?.includes("xyz"));
    assert.ok(lines[0]?.includes(`Bearer ${REDACTED}`));
  });

  it("expands errors with name, message, code and cause", () => {
    const { logger, records } = capture();
    const cause = new Error("socket hang up");
    const err = Object.assign(new Error("Watch failed", { cause }), { code: "PF_ERR_WATCH" });
    logger.error("Watch failed", { err });
    const e = records()[0]?.err as Record<string, unknown>;
    assert.equal(e.name, "Error");
    assert.equal(e.message, "Watch failed");
    assert.equal(e.code, "PF_ERR_WATCH");
    assert.equal((e.cause as Record<string, unknown>).message, "socket hang up");
    assert.equal(typeof e.stack, "string");
  });

  it("survives circular values", () => {
    const { logger, records } = capture();
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    logger.info("Logged cycle", { a });
    assert.deepEqual(records()[0]?.a, { name: "a", self: "[Circular]" });
  });

  it("classifies field names", () => {
    for (const name of ["token", "bearerToken", "password", "Authorization", "client-key-data", "certificateData", "secret"]) {
      assert.equal(isSensitiveField(name), true, name);
    }
    for (const name of ["key", "name", "secretName", "kubeconfigSecretRef", "namespace", "reason"]) {
      assert.equal(isSensitiveField(name), false, name);
    }
  });
});
