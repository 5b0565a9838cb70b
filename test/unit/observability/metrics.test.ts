import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  escapeLabelValue,
  formatValue,
  Registry,
  registerControllerMetrics,
  registerLeaderElectionMetrics,
} from "../../../src/observability/metrics.ts";
import { ControllerLoop } from "../../../src/runtime/controller-loop.ts";
import { WorkQueue } from "../../../src/runtime/work-queue.ts";
import { FakeClock } from "../../support/fake-clock.ts";

describe("Registry exposition (text format 0.0.4)", () => {
  it("writes HELP and TYPE lines and one sample per label set, sorted by label values", () => {
    const registry = new Registry();
    const c = registry.counter({ name: "demo_total", help: "Demo counter.", labelNames: ["result"] });
    c.inc({ result: "success" }, 2);
    c.inc({ result: "error" });
    const g = registry.gauge({ name: "demo_up", help: "Demo gauge." });
    g.set(undefined, 1.5);
    assert.equal(
      registry.expose(),
      [
        "# HELP demo_total Demo counter.",
        "# TYPE demo_total counter",
        'demo_total{result="error"} 1',
        'demo_total{result="success"} 2',
        "# HELP demo_up Demo gauge.",
        "# TYPE demo_up gauge",
        "demo_up 1.5",
        "",
      ].join("\n"),
    );
  });

  it("shows an unlabelled family at 0 before first use and a labelled one with no samples", () => {
    const registry = new Registry();
    registry.counter({ name: "a_total", help: "A." });
    registry.counter({ name: "b_total", help: "B.", labelNames: ["x"] });
    assert.equal(registry.expose(), "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n# HELP b_total B.\n# TYPE b_total counter\n");
  });

  it("escapes backslash, double quote and newline in label values, and backslash and newline in HELP", () => {
    const registry = new Registry();
    const c = registry.counter({ name: "esc_total", help: 'Path C:\\tmp\nsecond "line"', labelNames: ["v"] });
    c.inc({ v: 'a\\b"c\nd' });
    assert.equal(
      registry.expose(),
      '# HELP esc_total Path C:\\\\tmp\\nsecond "line"\n# TYPE esc_total counter\nesc_total{v="a\\\\b\\"c\\nd"} 1\n',
    );
    assert.equal(escapeLabelValue('"'), '\\"');
  });

  it("writes cumulative histogram buckets, +Inf, sum and count", () => {
    const registry = new Registry();
    const h = registry.histogram({ name: "lat_seconds", help: "Latency.", labelNames: ["op"], buckets: [0.1, 1, 10] });
    h.observe({ op: "dial" }, 0.05);
    h.observe({ op: "dial" }, 0.5);
    h.observe({ op: "dial" }, 0.5);
    h.observe({ op: "dial" }, 100);
    assert.equal(
      registry.expose(),
      [
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{op="dial",le="0.1"} 1',
        'lat_seconds_bucket{op="dial",le="1"} 3',
        'lat_seconds_bucket{op="dial",le="10"} 3',
        'lat_seconds_bucket{op="dial",le="+Inf"} 4',
        'lat_seconds_sum{op="dial"} 101.05',
        'lat_seconds_count{op="dial"} 4',
        "",
      ].join("\n"),
    );
  });

  it("formats values like Go's FormatFloat(v, 'g', -1, 64)", () => {
    assert.deepEqual(
      [1e-8, 0.0001, 0.00001, 2.5, 123456, 1e6, 1234567, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN].map(formatValue),
      ["1e-08", "0.0001", "1e-05", "2.5", "123456", "1e+06", "1.234567e+06", "+Inf", "-Inf", "NaN"],
    );
  });

  it("rejects duplicate names, bad names, missing or unknown labels, and counter decrements", () => {
    const registry = new Registry();
    const c = registry.counter({ name: "x_total", help: "X.", labelNames: ["a"] });
    assert.throws(() => registry.counter({ name: "x_total", help: "X." }), RangeError);
    assert.throws(() => registry.gauge({ name: "bad-name", help: "B." }), RangeError);
    assert.throws(() => c.inc({}), RangeError);
    assert.throws(() => c.inc({ a: "1", b: "2" }), RangeError);
    assert.throws(() => c.inc({ a: "1" }, -1), RangeError);
  });

  it("removes a labelled series", () => {
    const registry = new Registry();
    const g = registry.gauge({ name: "cond", help: "C.", labelNames: ["name"] });
    g.set({ name: "a" }, 1);
    g.remove({ name: "a" });
    assert.equal(registry.expose(), "# HELP cond C.\n# TYPE cond gauge\n");
  });
});

describe("registerControllerMetrics", () => {
  it("counts reconciles by result and errors under controller-runtime names", () => {
    const registry = new Registry();
    const reconciles = registerControllerMetrics(registry).reconciles("portforward");
    reconciles.observe("success", 0.02);
    reconciles.observe("error", 0.2);
    const text = registry.expose();
    assert.match(text, /^controller_runtime_reconcile_total\{controller="portforward",result="success"\} 1$/m);
    assert.match(text, /^controller_runtime_reconcile_total\{controller="portforward",result="error"\} 1$/m);
    assert.match(text, /^controller_runtime_reconcile_errors_total\{controller="portforward"\} 1$/m);
    assert.match(text, /^controller_runtime_reconcile_time_seconds_count\{controller="portforward"\} 2$/m);
    assert.match(text, /^controller_runtime_reconcile_time_seconds_bucket\{controller="portforward",le="0.025"\} 1$/m);
  });

  it("feeds workqueue_* metrics from a WorkQueue", async () => {
    const registry = new Registry();
    const metrics = registerControllerMetrics(registry);
    const queue = new WorkQueue({ clock: new FakeClock(), metrics: metrics.workQueue("portforward") });
    queue.add("ns/a");
    queue.add("ns/b");
    queue.addRateLimited("ns/c");
    const text = registry.expose();
    assert.match(text, /^workqueue_depth\{name="portforward"\} 2$/m);
    assert.match(text, /^workqueue_adds_total\{name="portforward"\} 2$/m);
    assert.match(text, /^workqueue_retries_total\{name="portforward"\} 1$/m);
    assert.match(text, /^# TYPE workqueue_queue_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE workqueue_work_duration_seconds histogram$/m);
    queue.shutdown();
  });

  it("creates every series of a ControllerLoop at zero when it is built, for each controller of the process", () => {
    const registry = new Registry();
    const metrics = registerControllerMetrics(registry);
    const log = { info() {}, warn() {} };
    for (const name of ["portforward", "gateway-sync"]) {
      new ControllerLoop({ name, metrics, log, concurrency: 1, clock: new FakeClock(), reconcile: async () => ({}) });
    }
    const text = registry.expose();
    for (const name of ["portforward", "gateway-sync"]) {
      for (const result of ["success", "error", "requeue_after"]) {
        assert.match(text, new RegExp(`^controller_runtime_reconcile_total\\{controller="${name}",result="${result}"\\} 0$`, "m"));
      }
      assert.match(text, new RegExp(`^controller_runtime_reconcile_errors_total\\{controller="${name}"\\} 0$`, "m"));
      for (const family of ["workqueue_depth", "workqueue_adds_total", "workqueue_retries_total"]) {
        assert.match(text, new RegExp(`^${family}\\{name="${name}"\\} 0$`, "m"));
      }
    }
    assert.doesNotMatch(text, /leader_election_master_status/, "the loop's metrics hold no leader gauge (a gateway leads nothing)");
  });
});

describe("Counter.setTotal and Registry.scrape", () => {
  it("sets a counter read from elsewhere, refuses a decrease, and runs collectors before exposing", async () => {
    const registry = new Registry();
    const c = registry.counter({ name: "read_total", help: "Read." });
    let reads = 0;
    registry.addCollector(async () => {
      reads += 1;
      c.setTotal(undefined, reads * 1.5);
    });
    assert.equal(registry.expose(), "# HELP read_total Read.\n# TYPE read_total counter\nread_total 0\n");
    assert.match(await registry.scrape(), /^read_total 1\.5$/m);
    assert.match(await registry.scrape(), /^read_total 3$/m);
    assert.throws(() => c.setTotal(undefined, 1), /can only increase/);
  });
});

describe("leader_election_master_status", () => {
  it("is 0 until the controller leads, then 1, and 0 again when it stops", () => {
    const registry = new Registry();
    const metrics = registerLeaderElectionMetrics(registry);
    const value = () => /^leader_election_master_status\{name="tunnelkeeper-controller"\} (\d)$/m.exec(registry.expose())?.[1];
    assert.equal(value(), "0");
    metrics.leading(true);
    assert.equal(value(), "1");
    metrics.leading(false);
    assert.equal(value(), "0");
  });
});
