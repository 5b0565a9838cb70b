// Process and Node.js runtime metrics: the names and types Prometheus users expect (prom-client's
// defaults), values read from this very process, and what /metrics serves by default.
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { HealthServer } from "../../../src/observability/health.ts";
import { Registry } from "../../../src/observability/metrics.ts";
import { maxOpenFiles, registerRuntimeMetrics, statusBytes } from "../../../src/observability/runtime-metrics.ts";
import { waitFor } from "../../support/portforwards.ts";

function sample(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `no sample ${name}${labels} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe("registerRuntimeMetrics", () => {
  it("exposes the process_* and nodejs_* families under prom-client's names and types", async () => {
    const registry = new Registry();
    registerRuntimeMetrics(registry);
    const declared = types(await registry.scrape());
    const expected: Record<string, string> = {
      process_cpu_user_seconds_total: "counter",
      process_cpu_system_seconds_total: "counter",
      process_cpu_seconds_total: "counter",
      process_start_time_seconds: "gauge",
      process_resident_memory_bytes: "gauge",
      process_virtual_memory_bytes: "gauge",
      process_heap_bytes: "gauge",
      process_open_fds: "gauge",
      process_max_fds: "gauge",
      nodejs_eventloop_lag_seconds: "gauge",
      nodejs_eventloop_lag_min_seconds: "gauge",
      nodejs_eventloop_lag_max_seconds: "gauge",
      nodejs_eventloop_lag_mean_seconds: "gauge",
      nodejs_eventloop_lag_stddev_seconds: "gauge",
      nodejs_eventloop_lag_p50_seconds: "gauge",
      nodejs_eventloop_lag_p90_seconds: "gauge",
      nodejs_eventloop_lag_p99_seconds: "gauge",
      nodejs_gc_duration_seconds: "histogram",
      nodejs_heap_size_total_bytes: "gauge",
      nodejs_heap_size_used_bytes: "gauge",
      nodejs_external_memory_bytes: "gauge",
      nodejs_heap_space_size_total_bytes: "gauge",
      nodejs_heap_space_size_used_bytes: "gauge",
      nodejs_heap_space_size_available_bytes: "gauge",
      nodejs_active_resources: "gauge",
      nodejs_version_info: "gauge",
    };
    assert.deepEqual(Object.fromEntries(declared), expected);
  });

  it("reads this process: CPU grows, start time is when it started, memory and descriptors are its own", async () => {
    const registry = new Registry();
    registerRuntimeMetrics(registry);
    const first = await registry.scrape();
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += i % 7;
    assert.ok(x > 0);
    const fd = openSync(import.meta.filename, "r");
    let second: string;
    try {
      second = await registry.scrape();
      assert.ok(sample(second, "process_open_fds") >= sample(first, "process_open_fds") + 1, "an opened file is counted");
    } finally {
      closeSync(fd);
    }
    assert.ok(sample(second, "process_cpu_seconds_total") > sample(first, "process_cpu_seconds_total"));
    const user = sample(second, "process_cpu_user_seconds_total");
    const system = sample(second, "process_cpu_system_seconds_total");
    assert.ok(Math.abs(sample(second, "process_cpu_seconds_total") - (user + system)) < 1e-6);
    const started = sample(second, "process_start_time_seconds");
    assert.ok(started <= Date.now() / 1000 - process.uptime() + 1 && started >= Date.now() / 1000 - process.uptime() - 1, `${started}`);
    const rss = sample(second, "process_resident_memory_bytes");
    const statusRss = statusBytes(readFileSync("/proc/self/status", "utf8"), "VmRSS")!;
    assert.ok(rss > 10 * 1024 * 1024 && Math.abs(rss - statusRss) / statusRss < 0.5, `rss ${rss} vs /proc ${statusRss}`);
    assert.ok(sample(second, "process_virtual_memory_bytes") >= rss);
    assert.ok(sample(second, "process_max_fds") >= sample(second, "process_open_fds"));
    assert.ok(sample(second, "nodejs_heap_size_used_bytes") <= sample(second, "nodejs_heap_size_total_bytes"));
    assert.ok(sample(second, "nodejs_heap_space_size_used_bytes", '{space="old"}') > 0);
    const [major, minor, patch] = process.versions.node.split(".");
    assert.equal(
      sample(second, "nodejs_version_info", `{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"}`),
      1,
    );
    assert.ok(sample(second, "nodejs_eventloop_lag_seconds") >= 0);
  });

  it("counts garbage collections by kind while started, and the event-loop delay of the busy loop", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const registry = new Registry();
    const runtime = registerRuntimeMetrics(registry);
    runtime.start();
    try {
      const busyUntil = performance.now() + 200;
      while (performance.now() < busyUntil) {
        // Block the event loop so the delay monitor records a long delay.
      }
      gc();
      const text = await waitFor("a major GC to be observed", async () => {
        const scraped = await registry.scrape();
        return /^nodejs_gc_duration_seconds_count\{kind="major"\} [1-9]/m.test(scraped) ? scraped : undefined;
      });
      assert.match(text, /^nodejs_gc_duration_seconds_bucket\{kind="major",le="\+Inf"\} [1-9]/m);
      assert.ok(sample(text, "nodejs_eventloop_lag_max_seconds") >= sample(text, "nodejs_eventloop_lag_p50_seconds"));
    } finally {
      runtime.stop();
    }
  });

  it("parses /proc/self/status and /proc/self/limits lines", () => {
    assert.equal(statusBytes("Name:\tnode\nVmSize:\t  123 kB\nVmRSS:\t 4 kB\n", "VmSize"), 123 * 1024);
    assert.equal(statusBytes("VmSize:\t  123 kB\n", "VmData"), undefined);
    const limits =
      "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
    assert.equal(maxOpenFiles(limits), 1024);
    assert.equal(maxOpenFiles("Max open files            unlimited            unlimited            files\n"), Number.POSITIVE_INFINITY);
    assert.equal(maxOpenFiles(""), undefined);
  });
});

describe("HealthServer /metrics", () => {
  it("serves the runtime metrics with the registry's own families by default", async () => {
    const registry = new Registry();
    registry.counter({ name: "demo_total", help: "Demo." }).inc();
    const server = new HealthServer({ host: "127.0.0.1", port: 0, registry });
    const controller = new AbortController();
    await server.start(controller.signal);
    try {
      const text = await (await fetch(`http://127.0.0.1:${server.address().port}/metrics`)).text();
      assert.equal(sample(text, "demo_total"), 1);
      assert.ok(sample(text, "process_resident_memory_bytes") > 0);
      assert.ok(sample(text, "nodejs_active_resources", '{type="TCPServerWrap"}') >= 1, "at least the server's own listener");
    } finally {
      controller.abort();
      await server.close();
    }
  });
});
