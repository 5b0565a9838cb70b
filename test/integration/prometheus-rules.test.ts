// The chart's PrometheusRule, unit-tested with `promtool test rules` (promtool built from the
// Prometheus Go module, test/cluster/promtool.ts): every alert fires on synthetic series that
// show its problem, with the labels a receiver routes on, and stays silent before its `for` and
// on healthy series. Every alert has a case here and a runbook section in docs/troubleshooting.md.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { ensurePrometheusTools } from "../cluster/promtool.ts";
import { testCluster } from "../support/cluster.ts";
import { runCommand } from "../support/run-command.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "charts", "tunnelkeeper");
const NS = "tunnelkeeper-system";
const CONTROLLER_JOB = "tk-tunnelkeeper-controller-metrics";
const GATEWAY_JOB = "tk-tunnelkeeper-gateway-metrics";
const RUNBOOKS = "https://github.com/tunnelkeeper/tunnelkeeper/blob/main/docs/troubleshooting.md";

// biome-ignore lint/suspicious/noExplicitAny: rule documents are checked field by field.
type Obj = Record<string, any>;

interface AlertCase {
  readonly alert: string;
  readonly what: string;
  readonly series: readonly { series: string; values: string }[];
  readonly checks: readonly { at: string; alerts: readonly Record<string, string>[] }[];
}

const sel = (job: string, labels: string) => `{job="${job}",${labels}}`;

const CASES: readonly AlertCase[] = [
  {
    alert: "TunnelkeeperPortForwardNotReady",
    what: "a PortForward Ready=False for 10 minutes; a Ready one stays silent",
    series: [
      {
        series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-a",name="web",type="Ready",status="False"')}`,
        values: "1x20",
      },
      {
        series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-a",name="web",type="Ready",status="True"')}`,
        values: "0x20",
      },
      {
        series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-a",name="db",type="Ready",status="True"')}`,
        values: "1x20",
      },
      {
        series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-a",name="db",type="Ready",status="False"')}`,
        values: "0x20",
      },
    ],
    checks: [
      { at: "9m", alerts: [] },
      { at: "11m", alerts: [{ severity: "warning", namespace: "team-a", name: "web" }] },
    ],
  },
  {
    alert: "TunnelkeeperPortForwardDegraded",
    what: "Degraded=True for 15 minutes",
    series: [
      {
        series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-b",name="api",type="Degraded",status="True"')}`,
        values: "1x30",
      },
    ],
    checks: [
      { at: "14m", alerts: [] },
      { at: "16m", alerts: [{ severity: "warning", namespace: "team-b", name: "api" }] },
    ],
  },
  {
    alert: "TunnelkeeperGatewayListenFailed",
    what: "a listen error in the last 10 minutes, and silence once none happened for 10 minutes",
    series: [
      {
        series: `tunnelkeeper_gateway_listen_errors_total${sel(GATEWAY_JOB, `namespace="${NS}",pod="gw-0",portforward="team-a/web"`)}`,
        values: "0 0 1x20",
      },
    ],
    checks: [
      { at: "1m", alerts: [] },
      { at: "3m", alerts: [{ severity: "warning", namespace: NS, pod: "gw-0", portforward: "team-a/web" }] },
      { at: "15m", alerts: [] },
    ],
  },
  {
    alert: "TunnelkeeperGatewayAbsent",
    what: "no gateway target up for 5 minutes",
    series: [
      { series: `up${sel(GATEWAY_JOB, 'pod="gw-0"')}`, values: "1 1 0x10" },
      { series: `up${sel(GATEWAY_JOB, 'pod="gw-1"')}`, values: "1 1 1 0x10" },
    ],
    checks: [
      { at: "6m", alerts: [] },
      // absent() of a comparison carries no labels; the description names the job.
      { at: "9m", alerts: [{ severity: "critical" }] },
    ],
  },
  {
    alert: "TunnelkeeperReconnectStorm",
    what: "0.5 redials/s on one gateway pod for 10 minutes; 1/min on another stays silent",
    series: [
      {
        series: `tunnelkeeper_gateway_reconnects_total${sel(GATEWAY_JOB, `namespace="${NS}",pod="gw-0",reason="Network"`)}`,
        values: "0+30x30",
      },
      {
        series: `tunnelkeeper_gateway_reconnects_total${sel(GATEWAY_JOB, `namespace="${NS}",pod="gw-1",reason="PodGone"`)}`,
        values: "0+1x30",
      },
    ],
    checks: [
      { at: "5m", alerts: [] },
      { at: "22m", alerts: [{ severity: "warning", namespace: NS, pod: "gw-0" }] },
    ],
  },
  {
    alert: "TunnelkeeperControllerNotLeading",
    what: "the only leader stepping down for 5 minutes; a standby beside a leader is fine",
    series: [
      { series: `leader_election_master_status${sel(CONTROLLER_JOB, 'name="tunnelkeeper-controller",pod="c-0"')}`, values: "1x4 0x20" },
      { series: `leader_election_master_status${sel(CONTROLLER_JOB, 'name="tunnelkeeper-controller",pod="c-1"')}`, values: "0x25" },
    ],
    checks: [
      { at: "4m", alerts: [] },
      { at: "8m", alerts: [] },
      { at: "11m", alerts: [{ severity: "critical" }] },
    ],
  },
  {
    alert: "TunnelkeeperWorkqueueBacklog",
    what: "500 items queued for 15 minutes; a short burst stays silent",
    series: [
      { series: `workqueue_depth${sel(CONTROLLER_JOB, `namespace="${NS}",pod="c-0",name="portforward"`)}`, values: "500x30" },
      { series: `workqueue_depth${sel(CONTROLLER_JOB, `namespace="${NS}",pod="c-1",name="portforward"`)}`, values: "500x5 0x25" },
    ],
    checks: [
      { at: "14m", alerts: [] },
      { at: "16m", alerts: [{ severity: "warning", namespace: NS, pod: "c-0", name: "portforward" }] },
    ],
  },
];

/** The summary annotation as Prometheus expands it for these labels. */
function expand(template: string, labels: Record<string, string>): string {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? "");
}

let dir = "";
let promtool = "";

async function renderRules(values: Obj): Promise<Obj> {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const result = await runCommand(testCluster().state.helm, [
    "template",
    "tk",
    CHART,
    "--namespace",
    NS,
    "--api-versions",
    "monitoring.coreos.com/v1",
    "-f",
    file,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const rule = parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Obj | null)
    .find((o) => o?.kind === "PrometheusRule");
  assert.ok(rule, "no PrometheusRule rendered");
  return rule;
}

/** Runs `promtool test rules` on `rules` (a PrometheusRule's spec) with the given tests. */
async function promtoolTest(spec: Obj, tests: Obj[]): Promise<{ code: number | null; output: string }> {
  const rulesFile = join(dir, "rules.yaml");
  // Descriptions quote $value, which depends on evaluation details; summaries and runbook URLs are compared.
  const groups = spec.groups.map((g: Obj) => ({
    ...g,
    rules: g.rules.map((r: Obj) => ({ ...r, annotations: { ...r.annotations, description: undefined } })),
  }));
  writeFileSync(rulesFile, stringify({ groups }));
  const testFile = join(dir, "tests.yaml");
  writeFileSync(testFile, stringify({ rule_files: [rulesFile], evaluation_interval: "1m", tests }));
  const result = await runCommand(promtool, ["test", "rules", testFile]);
  return { code: result.code, output: `${result.stdout}${result.stderr}` };
}

describe("the chart's PrometheusRule under promtool", () => {
  let rule: Obj;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tk-rules-"));
    promtool = (await ensurePrometheusTools()).promtool;
    rule = await renderRules({ metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check rules (expressions and annotation templates)", async () => {
    const file = join(dir, "check.yaml");
    writeFileSync(file, stringify({ groups: rule.spec.groups }));
    const result = await runCommand(promtool, ["check", "rules", file]);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${CASES.length} rules found`));
  });

  it("has a test case and a runbook section for every alert, and a runbook URL pointing at it", () => {
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.alert as string)).sort();
    assert.deepEqual(alerts, CASES.map((c) => c.alert).sort());
    const doc = readFileSync(join(ROOT, "docs", "troubleshooting.md"), "utf8");
    for (const r of rule.spec.groups.flatMap((g: Obj) => g.rules)) {
      assert.match(doc, new RegExp(`^### ${r.alert}$`, "m"), `no runbook section for ${r.alert}`);
      assert.equal(r.annotations.runbook_url, `${RUNBOOKS}#${r.alert.toLowerCase()}`);
      assert.ok(r.labels.severity === "warning" || r.labels.severity === "critical", r.alert);
    }
  });

  for (const c of CASES) {
    it(`${c.alert}: ${c.what}`, async () => {
      const source = rule.spec.groups.flatMap((g: Obj) => g.rules).find((r: Obj) => r.alert === c.alert);
      const tests = [
        {
          interval: "1m",
          input_series: c.series,
          alert_rule_test: c.checks.map((check) => ({
            eval_time: check.at,
            alertname: c.alert,
            exp_alerts: check.alerts.map((labels) => ({
              exp_labels: labels,
              exp_annotations: { summary: expand(source.annotations.summary, labels), runbook_url: source.annotations.runbook_url },
            })),
          })),
        },
      ];
      const result = await promtoolTest(rule.spec, tests);
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    });
  }

  it("TunnelkeeperControllerNotLeading also fires when no controller is scraped at all", async () => {
    const result = await promtoolTest(rule.spec, [
      {
        interval: "1m",
        input_series: [{ series: `up${sel(GATEWAY_JOB, 'pod="gw-0"')}`, values: "1x10" }],
        alert_rule_test: [
          {
            eval_time: "6m",
            alertname: "TunnelkeeperControllerNotLeading",
            exp_alerts: [
              {
                exp_labels: { severity: "critical" },
                exp_annotations: {
                  summary: "No tunnelkeeper controller replica leads.",
                  runbook_url: `${RUNBOOKS}#tunnelkeepercontrollernotleading`,
                },
              },
            ],
          },
        ],
      },
    ]);
    assert.equal(result.code, 0, result.output);
  });

  it("selects the PodMonitor's job (<namespace>/<name>) when metrics.podMonitor is the monitor", async () => {
    const podRule = await renderRules({ metrics: { podMonitor: { enabled: true }, prometheusRule: { enabled: true } } });
    const job = `${NS}/tk-tunnelkeeper-gateway`;
    const result = await promtoolTest(podRule.spec, [
      {
        interval: "1m",
        input_series: [
          { series: `up{job="${GATEWAY_JOB}",pod="gw-0"}`, values: "1x10" },
          { series: `up{job="${job}",pod="gw-0"}`, values: "0x10" },
        ],
        alert_rule_test: [
          {
            eval_time: "7m",
            alertname: "TunnelkeeperGatewayAbsent",
            exp_alerts: [
              {
                exp_labels: { severity: "critical" },
                exp_annotations: { summary: "No tunnelkeeper gateway is reporting.", runbook_url: `${RUNBOOKS}#tunnelkeepergatewayabsent` },
              },
            ],
          },
        ],
      },
    ]);
    assert.equal(result.code, 0, result.output);
  });

  it("uses the thresholds from values: a 2m notReadyFor fires at 3m", async () => {
    const fast = await renderRules({
      metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true, notReadyFor: "2m" } },
    });
    const labels = { severity: "warning", namespace: "team-a", name: "web" };
    const result = await promtoolTest(fast.spec, [
      {
        interval: "1m",
        input_series: [
          {
            series: `tunnelkeeper_portforward_condition${sel(CONTROLLER_JOB, 'namespace="team-a",name="web",type="Ready",status="Unknown"')}`,
            values: "1x10",
          },
        ],
        alert_rule_test: [
          {
            eval_time: "3m",
            alertname: "TunnelkeeperPortForwardNotReady",
            exp_alerts: [
              {
                exp_labels: labels,
                exp_annotations: {
                  summary: "PortForward team-a/web is not Ready.",
                  runbook_url: `${RUNBOOKS}#tunnelkeeperportforwardnotready`,
                },
              },
            ],
          },
        ],
      },
    ]);
    assert.equal(result.code, 0, result.output);
  });
});
