// The real /metrics of both components, scraped while a PortForward carries traffic:
// - `promtool check metrics` (promtool built from the Prometheus Go module) accepts the whole
//   output of each, runtime metrics included;
// - every metric the Grafana dashboard queries (parsed by Prometheus's own PromQL parser,
//   promql-names in test/cluster/tools/prometheus) is in that output — no panel refers to a
//   metric the code does not export.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createBackedPod } from "../cluster/pods.ts";
import { ensurePrometheusTools } from "../cluster/promtool.ts";
import { testCluster, testNamespace } from "../support/cluster.ts";
import { echoThrough, gatewayPortOf, startOperator, waitFor } from "../support/e2e.ts";
import { runCommand } from "../support/run-command.ts";
import { startEchoServer } from "../support/tcp-servers.ts";

const DASHBOARD = join(import.meta.dirname, "..", "..", "charts", "tunnelkeeper", "files", "dashboards", "tunnelkeeper.json");

interface Exposition {
  /** Names of the samples in the output. */
  readonly samples: Set<string>;
  /** Families declared by `# TYPE`, with their type. */
  readonly families: Map<string, string>;
}

function exposition(text: string): Exposition {
  const samples = new Set<string>();
  const families = new Map<string, string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    else if (line !== "" && !line.startsWith("#")) samples.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return { samples, families };
}

/** Whether `name` is exported: a sample in the output, or a declared family (or a histogram's series of one) without samples yet. */
function exported(e: Exposition, name: string): "sample" | "declared" | undefined {
  if (e.samples.has(name)) return "sample";
  if (e.families.has(name)) return "declared";
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (histogram && e.families.get(histogram[1]!) === "histogram") return "declared";
  return undefined;
}

/** Every PromQL query of the dashboard: panel targets and query variables, Grafana's variables replaced. */
function dashboardQueries(): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: dashboard JSON.
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as any;
  const queries: string[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: dashboard JSON.
  const visit = (panels: any[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) queries.push(target.expr);
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
    if (variable.type !== "query") continue;
    const labelValues = /^label_values\((\w+), *\w+\)$/.exec(query);
    assert.ok(labelValues, `variable ${variable.name}: unexpected query ${query}`);
    queries.push(labelValues[1]!);
  }
  return queries.map((q) =>
    q
      .replaceAll("$__rate_interval", "5m")
      .replaceAll("$__interval", "1m")
      .replace(/\$\{?(\w+)\}?/g, ".*"),
  );
}

test("both components' real /metrics pass promtool check metrics, and every dashboard query selects exported metrics", async (t) => {
  const tools = await ensurePrometheusTools();
  const cluster = testCluster();
  const namespace = await testNamespace(t, "e2e-obs");
  const echo = await startEchoServer(t);
  await createBackedPod(cluster.admin, { namespace, name: "web-0", ports: [{ podPort: 8080, host: "127.0.0.1", port: echo.port }] });
  const {
    controller,
    gateways: [gateway],
    hosts: [host],
    portForwards,
  } = await startOperator(t, namespace);
  await portForwards.create("web", { target: { pod: "web-0" }, ports: [{ port: 80, targetPort: 8080 }] });
  const ready = await portForwards.ready("web");
  const payload = randomBytes(256 * 1024);
  assert.ok((await echoThrough({ host: host!, port: gatewayPortOf(ready, 80) }, payload)).equals(payload));
  await waitFor("the connection to be counted", async () =>
    /^tunnelkeeper_gateway_connections_total\{portforward="[^"]+\/web",result="[a-z_]+"\} 1$/m.test(await gateway!.metrics())
      ? true
      : undefined,
  );

  const outputs = { controller: await controller.metrics(), gateway: await gateway!.metrics() };
  for (const [component, text] of Object.entries(outputs)) {
    const check = await runCommand(tools.promtool, ["check", "metrics"], text);
    assert.equal(check.code, 0, `promtool check metrics failed on the ${component}'s /metrics:\n${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), "", `promtool lint findings on the ${component}'s /metrics`);
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"]) {
      assert.match(text, new RegExp(`^${name} \\d`, "m"), `${component} exports ${name}`);
    }
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
    t.diagnostic(
      `${component}: ${text.split("\n").filter((l) => l && !l.startsWith("#")).length} samples, ${Buffer.byteLength(text)} bytes`,
    );
  }
  assert.match(outputs.controller, /^leader_election_master_status\{name="tunnelkeeper-controller"\} 1$/m);
  assert.match(outputs.controller, /^tunnelkeeper_portforward_condition\{namespace="[^"]+",name="web",type="Ready",status="True"\} 1$/m);
  // Every work loop reports under controller-runtime's names: the controller's, and the gateway's two.
  const loops = { controller: ["portforward"], gateway: ["gateway-sync", "gateway-status"] };
  for (const [component, names] of Object.entries(loops)) {
    const text = outputs[component as keyof typeof outputs];
    for (const name of names) {
      // Each outcome's series exists (at 0 until one ends so); the loop has reconciled.
      for (const result of ["success", "error", "requeue_after"]) {
        assert.match(text, new RegExp(`^controller_runtime_reconcile_total\\{controller="${name}",result="${result}"\\} \\d`, "m"));
      }
      assert.match(
        text,
        new RegExp(`^controller_runtime_reconcile_time_seconds_count\\{controller="${name}"\\} [1-9]`, "m"),
        `${component}: ${name} reconciled`,
      );
      assert.match(text, new RegExp(`^workqueue_adds_total\\{name="${name}"\\} [1-9]`, "m"), `${component}: queue ${name}`);
      assert.match(text, new RegExp(`^workqueue_depth\\{name="${name}"\\} \\d`, "m"));
    }
  }
  assert.doesNotMatch(outputs.gateway, /^leader_election_master_status/m, "a gateway leads no Lease");
  assert.doesNotMatch(outputs.controller, /controller="gateway-sync"/, "the gateway's loops run in the gateway only");

  const queries = dashboardQueries();
  const parsed = await runCommand(tools.promqlNames, [], JSON.stringify(queries));
  assert.equal(parsed.code, 0, parsed.stderr);
  const results = JSON.parse(parsed.stdout) as { query: string; metrics?: string[]; error?: string }[];
  const scraped = [exposition(outputs.controller), exposition(outputs.gateway)];
  const missing: string[] = [];
  const declaredOnly = new Set<string>();
  for (const r of results) {
    assert.equal(r.error, undefined, `dashboard query does not parse: ${r.query}: ${r.error}`);
    assert.ok((r.metrics ?? []).length > 0, `dashboard query selects no metric: ${r.query}`);
    for (const name of r.metrics ?? []) {
      const found = scraped.map((e) => exported(e, name));
      if (found.includes("sample")) continue;
      if (found.includes("declared")) declaredOnly.add(name);
      else missing.push(`${name} (in ${r.query})`);
    }
  }
  assert.deepEqual(missing, [], "dashboard queries refer to metrics the components do not export");
  // Declared without samples: families whose label values appear only with the event (a listen
  // error, a failed reconcile); the rest of the dashboard is checked against live samples.
  t.diagnostic(
    `dashboard: ${results.length} queries; declared but without samples in this scrape: ${[...declaredOnly].sort().join(", ") || "none"}`,
  );
  // The GC histogram's series are labelled by GC kind and appear with the first collection of
  // that kind, which a short-lived process under little load may not have had yet.
  const EVENT_ONLY = [
    "tunnelkeeper_gateway_listen_errors_total",
    "tunnelkeeper_gateway_reconnects_total",
    "nodejs_gc_duration_seconds_sum",
    "nodejs_gc_duration_seconds_count",
    "nodejs_gc_duration_seconds_bucket",
  ];
  assert.deepEqual(
    [...declaredOnly].filter((name) => !EVENT_ONLY.includes(name)),
    [],
    "only families that need a failure to have samples may lack them",
  );
});
