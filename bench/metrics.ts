/**
 * `npm run bench -- metrics [--portforwards N] [--scrapes N] [--prom-client DIR]`: the cost of one
 * `/metrics` scrape with N PortForwards (default 1,000), for our registry (src/observability) and,
 * side by side, for prom-client holding the same families and series — the evidence behind
 * keeping our registry (docs/metrics.md).
 *
 * Both registries are filled through the same calls: the controller's condition gauge (every
 * condition type × status of N PortForwards), its reconcile and work-queue metrics, and a gateway's
 * per-PortForward tunnel and connection series; runtime metrics are registered in both. Each
 * exposition is then checked with `promtool check metrics` (built on demand, test/cluster/promtool.ts).
 *
 * prom-client is not a dependency of tunnelkeeper: pass a folder where it is installed
 * (`npm install --prefix DIR prom-client@15.1.3`), or the table shows ours only.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConditionType } from "../src/api/conditions.ts";
import { registerConditionMetrics } from "../src/controller/condition-metrics.ts";
import { registerGatewayMetrics } from "../src/gateway/gateway-metrics.ts";
import { Registry, registerControllerMetrics } from "../src/observability/metrics.ts";
import { registerRuntimeMetrics } from "../src/observability/runtime-metrics.ts";
import { ensurePrometheusTools } from "../test/cluster/promtool.ts";
import { percentile } from "./support/parallel.ts";
import { printTable } from "./support/report.ts";

const CONDITION_TYPES = Object.values(ConditionType);
const STATUSES = ["True", "False", "Unknown"] as const;
const RESULTS = ["completed", "client_error"] as const;

interface Side {
  readonly name: string;
  readonly scrape: () => Promise<string>;
}

function ours(portforwards: number): Side {
  const registry = new Registry();
  const runtime = registerRuntimeMetrics(registry);
  runtime.start();
  const controller = registerControllerMetrics(registry);
  const conditions = registerConditionMetrics(registry);
  const gateway = registerGatewayMetrics(registry);
  const queue = controller.workQueue("portforward");
  const reconciles = controller.reconciles("portforward");
  for (let i = 0; i < portforwards; i++) {
    const name = `pf-${i}`;
    conditions.record(
      `team-${i % 10}/${name}`,
      CONDITION_TYPES.map((type) => ({
        type,
        status: "True",
        reason: "Forwarding",
        message: "",
        lastTransitionTime: "2026-01-01T00:00:00Z",
        observedGeneration: 1,
      })),
    );
    reconciles.observe("success", 0.004);
    queue.added();
    queue.workDuration(0.004);
    const pf = `team-${i % 10}/${name}`;
    gateway.tunnelUp(pf, 1);
    gateway.connectionOpened(pf);
    for (const result of RESULTS) {
      gateway.connectionOpened(pf);
      gateway.connectionClosed(pf, result);
    }
    gateway.dialed("success", 0.02);
  }
  return { name: "tunnelkeeper registry", scrape: () => registry.scrape() };
}

function promClient(dir: string, portforwards: number): Side {
  const require = createRequire(join(dir, "package.json"));
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  const client = require("prom-client") as any;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const gauge = (name: string, labelNames: string[]) => new client.Gauge({ name, help: name, labelNames, registers: [registry] });
  const counter = (name: string, labelNames: string[]) => new client.Counter({ name, help: name, labelNames, registers: [registry] });
  const histogram = (name: string, labelNames: string[], buckets: number[]) =>
    new client.Histogram({ name, help: name, labelNames, buckets, registers: [registry] });
  const condition = gauge("tunnelkeeper_portforward_condition", ["namespace", "name", "type", "status"]);
  const reconcileTotal = counter("controller_runtime_reconcile_total", ["controller", "result"]);
  const reconcileTime = histogram(
    "controller_runtime_reconcile_time_seconds",
    ["controller"],
    [
      0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4,
      4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
    ],
  );
  const adds = counter("workqueue_adds_total", ["name"]);
  const workDuration = histogram(
    "workqueue_work_duration_seconds",
    ["name"],
    Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1))),
  );
  const tunnels = gauge("tunnelkeeper_gateway_tunnels_up", ["portforward"]);
  const active = gauge("tunnelkeeper_gateway_connections_active", ["portforward"]);
  const total = counter("tunnelkeeper_gateway_connections_total", ["portforward", "result"]);
  const dial = histogram(
    "tunnelkeeper_gateway_dial_duration_seconds",
    ["result"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  for (let i = 0; i < portforwards; i++) {
    const name = `pf-${i}`;
    for (const type of CONDITION_TYPES) {
      for (const status of STATUSES) condition.set({ namespace: `team-${i % 10}`, name, type, status }, status === "True" ? 1 : 0);
    }
    reconcileTotal.inc({ controller: "portforward", result: "success" });
    reconcileTime.observe({ controller: "portforward" }, 0.004);
    adds.inc({ name: "portforward" });
    workDuration.observe({ name: "portforward" }, 0.004);
    const pf = `team-${i % 10}/${name}`;
    tunnels.inc({ portforward: pf });
    active.inc({ portforward: pf });
    for (const result of RESULTS) total.inc({ portforward: pf, result });
    dial.observe({ result: "success" }, 0.02);
  }
  return { name: `prom-client ${require("prom-client/package.json").version}`, scrape: () => registry.metrics() };
}

interface Figures {
  readonly name: string;
  readonly series: number;
  readonly bytes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly promtool: string;
}

async function measure(side: Side, scrapes: number, promtool: string): Promise<Figures> {
  for (let i = 0; i < 5; i++) await side.scrape(); // warm-up (JIT)
  const times: number[] = [];
  let text = "";
  for (let i = 0; i < scrapes; i++) {
    const started = performance.now();
    text = await side.scrape();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const check = spawnSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" });
  const findings = `${check.stdout}${check.stderr}`.trim();
  return {
    name: side.name,
    series: text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length,
    bytes: Buffer.byteLength(text),
    p50Ms: percentile(times, 0.5),
    p99Ms: percentile(times, 0.99),
    promtool:
      check.status === 0 ? (findings === "" ? "ok" : `ok with lint: ${findings.split("\n").length} findings`) : `FAILED: ${findings}`,
  };
}

export async function run(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      portforwards: { type: "string", default: "1000" },
      scrapes: { type: "string", default: "50" },
      "prom-client": { type: "string" },
    },
  });
  const portforwards = Number(values.portforwards);
  const scrapes = Number(values.scrapes);
  const { promtool } = await ensurePrometheusTools();
  const sides = [ours(portforwards)];
  if (values["prom-client"] !== undefined) sides.push(promClient(values["prom-client"], portforwards));
  const results: Figures[] = [];
  for (const side of sides) results.push(await measure(side, scrapes, promtool));
  for (const r of results) {
    printTable(`/metrics with ${portforwards} PortForwards (controller + gateway families in one registry): ${r.name}`, [
      ["samples", String(r.series)],
      ["bytes", String(r.bytes)],
      ["scrape p50", `${r.p50Ms.toFixed(2)} ms`],
      ["scrape p99", `${r.p99Ms.toFixed(2)} ms`],
      ["promtool check metrics", r.promtool],
    ]);
  }
  return { portforwards, scrapes, results };
}
