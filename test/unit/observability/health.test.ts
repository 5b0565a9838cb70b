import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HealthServer } from "../../../src/observability/health.ts";
import { PROMETHEUS_CONTENT_TYPE, Registry } from "../../../src/observability/metrics.ts";

describe("HealthServer over a real port-0 HTTP server", () => {
  const registry = new Registry();
  registry.counter({ name: "demo_total", help: "Demo." }).inc();
  const server = new HealthServer({ host: "127.0.0.1", port: 0, registry, runtimeMetrics: false, checkTimeoutMs: 200 });
  const controller = new AbortController();
  let informersSynced = false;
  server.addReadinessCheck("informers", () => informersSynced);
  server.addReadinessCheck("leader-election", async () => true);
  let base = "";

  before(async () => {
    await server.start(controller.signal);
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    controller.abort();
    await server.close();
  });

  it("serves /metrics in Prometheus text format 0.0.4", async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
    assert.equal(await res.text(), "# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total 1\n");
  });

  it("answers /healthz with 200 ok", async () => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok\n");
  });

  it("answers /readyz with 503 while a check fails, and lists checks with ?verbose", async () => {
    informersSynced = false;
    const res = await fetch(`${base}/readyz?verbose`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "[-]informers failed: not ready\n[+]leader-election ok\nreadyz check failed\n");
    const terse = await fetch(`${base}/readyz`);
    assert.equal(terse.status, 503);
    assert.equal(await terse.text(), "[-]informers failed\nreadyz check failed\n");
  });

  it("answers /readyz with 200 once every check passes", async () => {
    informersSynced = true;
    const res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok\n");
    const verbose = await fetch(`${base}/readyz?verbose`);
    assert.equal(await verbose.text(), "[+]informers ok\n[+]leader-election ok\nreadyz check passed\n");
  });

  it("fails a check that throws or exceeds the timeout, with the reason", async () => {
    const local = new HealthServer({ host: "127.0.0.1", port: 0, checkTimeoutMs: 50 });
    local.addReadinessCheck("throws", () => {
      throw new Error("cache not synced");
    });
    local.addReadinessCheck("slow", () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 1000).unref()));
    const c = new AbortController();
    await local.start(c.signal);
    const res = await fetch(`http://127.0.0.1:${local.address().port}/readyz?verbose`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "[-]throws failed: cache not synced\n[-]slow failed: timed out\nreadyz check failed\n");
    c.abort();
    await local.close();
  });

  it("returns 404 for unknown paths and refuses duplicate check names", async () => {
    const res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
    await res.text();
    assert.throws(() => server.addReadinessCheck("informers", () => true), RangeError);
  });

  it("stops listening when the start signal aborts", async () => {
    const local = new HealthServer({ host: "127.0.0.1", port: 0 });
    const c = new AbortController();
    await local.start(c.signal);
    const port = local.address().port;
    c.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  });
});
