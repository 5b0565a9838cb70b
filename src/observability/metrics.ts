/**
 * A small Prometheus registry: counters, gauges and histograms with labels, exposed in the text
 * format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Exposition contract:
 * - Families appear in registration order, each with `# HELP` then `# TYPE`; series within a
 *   family are sorted by label values so output is stable.
 * - HELP text escapes `\` and newline; label values escape `\`, `"` and newline.
 * - A family without label names always shows one series (starting at 0); a labelled family shows
 *   only the label combinations that were used.
 * - Histograms expose cumulative `_bucket{le=...}` series ending in `le="+Inf"`, then `_sum` and
 *   `_count`.
 *
 * There is no global registry: `main.ts` creates one and passes it down. Values that are read
 * rather than counted (process and runtime metrics, see runtime-metrics.ts) come from collectors
 * that `scrape()` runs before it exposes the registry.
 *
 * Why this registry and not prom-client: docs/metrics.md has the evidence (both expositions pass
 * `promtool check metrics`; this one costs a fraction per scrape at 1,000 PortForwards).
 */
import { CONTROLLER_LEASE_NAME } from "../api/identity.ts";
import type { ControllerLoopMetrics } from "../runtime/controller-loop.ts";
import { byEntryKey } from "../runtime/order.ts";

export type Labels = Readonly<Record<string, string>>;

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is added automatically. */
  buckets: readonly number[];
}

/** controller-runtime's reconcile-time buckets (pkg/internal/controller/metrics). */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5,
  5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** client-go's workqueue duration buckets: ExponentialBuckets(10e-9, 10, 12). */
export const WORKQUEUE_DURATION_BUCKETS: readonly number[] = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

/**
 * Formats a sample value (and `le` bounds) like the Go client, i.e. Go's
 * `strconv.FormatFloat(v, 'g', -1, 64)`: shortest digits, exponent form when the decimal exponent
 * is < -4 or >= 6 (two-digit exponent: `1e-08`, `1.5e+06`), and `+Inf`, `-Inf`, `NaN`.
 */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  if (value === 0) return "0";
  const [mantissa = "", exponentText = "0"] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const digits = String(Math.abs(exponent)).padStart(2, "0");
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${digits}`;
  }
  return String(value);
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? "")}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

abstract class Family<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge" | "histogram";
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(options: MetricOptions) {
    if (!METRIC_NAME.test(options.name)) throw new RangeError(`Invalid metric name ${JSON.stringify(options.name)}`);
    const labelNames = options.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__")) throw new RangeError(`Invalid label name ${JSON.stringify(l)}`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  protected abstract initial(): S;
  protected abstract samples(values: readonly string[], state: S): string[];

  protected stateFor(labels: Labels | undefined): S {
    const values = this.labelNames.map((n) => {
      const v = labels?.[n];
      if (v === undefined) throw new RangeError(`Metric ${this.name} is missing label ${n}`);
      return v;
    });
    if (labels !== undefined) {
      for (const k of Object.keys(labels)) {
        if (!this.labelNames.includes(k)) throw new RangeError(`Metric ${this.name} has no label ${k}`);
      }
    }
    const id = values.join("\u0000");
    let entry = this.series.get(id);
    if (entry === undefined) {
      entry = { values, state: this.initial() };
      this.series.set(id, entry);
    }
    return entry.state;
  }

  /** Removes one labelled series (e.g. when the object it describes is deleted). */
  remove(labels: Labels): void {
    this.series.delete(this.labelNames.map((n) => labels[n] ?? "").join("\u0000"));
  }

  expose(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    if (this.labelNames.length === 0 && this.series.size === 0) this.stateFor(undefined);
    const entries = [...this.series.entries()].sort(byEntryKey);
    for (const [, { values, state }] of entries) lines.push(...this.samples(values, state));
    return `${lines.join("\n")}\n`;
  }
}

export class Counter extends Family<{ value: number }> {
  readonly type = "counter";
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected samples(values: readonly string[], state: { value: number }): string[] {
    return [`${this.name}${formatLabels(this.labelNames, values)} ${formatValue(state.value)}`];
  }
  /** Adds `value` (default 1; must be >= 0). */
  inc(labels?: Labels, value = 1): void {
    if (!(value >= 0)) throw new RangeError(`Counter ${this.name} can only increase`);
    this.stateFor(labels).value += value;
  }
  /** Sets the total of a counter read from elsewhere (e.g. process CPU time); it must not decrease. */
  setTotal(labels: Labels | undefined, value: number): void {
    const state = this.stateFor(labels);
    if (!(value >= state.value)) throw new RangeError(`Counter ${this.name} can only increase`);
    state.value = value;
  }
  get(labels?: Labels): number {
    return this.stateFor(labels).value;
  }
}

export class Gauge extends Family<{ value: number }> {
  readonly type = "gauge";
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected samples(values: readonly string[], state: { value: number }): string[] {
    return [`${this.name}${formatLabels(this.labelNames, values)} ${formatValue(state.value)}`];
  }
  set(labels: Labels | undefined, value: number): void {
    this.stateFor(labels).value = value;
  }
  inc(labels?: Labels, value = 1): void {
    this.stateFor(labels).value += value;
  }
  dec(labels?: Labels, value = 1): void {
    this.stateFor(labels).value -= value;
  }
  get(labels?: Labels): number {
    return this.stateFor(labels).value;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<HistogramState> {
  readonly type = "histogram";
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions) {
    super(options);
    if (options.labelNames?.includes("le")) throw new RangeError(`Histogram ${options.name} cannot use label le`);
    const buckets = options.buckets.filter((b) => b !== Number.POSITIVE_INFINITY);
    for (let i = 1; i < buckets.length; i++) {
      if (!((buckets[i] ?? 0) > (buckets[i - 1] ?? 0))) throw new RangeError(`Histogram ${options.name} buckets must increase`);
    }
    this.buckets = buckets;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected samples(values: readonly string[], state: HistogramState): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += state.counts[i] ?? 0;
      lines.push(`${this.name}_bucket${formatLabels(this.labelNames, values, ["le", formatValue(bound)])} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${formatLabels(this.labelNames, values, ["le", "+Inf"])} ${state.count}`);
    lines.push(`${this.name}_sum${formatLabels(this.labelNames, values)} ${formatValue(state.sum)}`);
    lines.push(`${this.name}_count${formatLabels(this.labelNames, values)} ${state.count}`);
    return lines;
  }

  observe(labels: Labels | undefined, value: number): void {
    const state = this.stateFor(labels);
    const i = this.buckets.findIndex((bound) => value <= bound);
    if (i >= 0) state.counts[i] = (state.counts[i] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }
}

/** Reads values into the registry's families just before a scrape. */
export type Collector = () => void | Promise<void>;

export class Registry {
  readonly #families = new Map<string, { expose(): string }>();
  readonly #collectors: Collector[] = [];

  counter(options: MetricOptions): Counter {
    return this.#register(new Counter(options));
  }

  gauge(options: MetricOptions): Gauge {
    return this.#register(new Gauge(options));
  }

  histogram(options: HistogramOptions): Histogram {
    return this.#register(new Histogram(options));
  }

  /** Adds a collector run by every `scrape()`. */
  addCollector(collector: Collector): void {
    this.#collectors.push(collector);
  }

  /** Runs the collectors, then exposes the registry: what `/metrics` serves. */
  async scrape(): Promise<string> {
    await Promise.all(this.#collectors.map((collect) => collect()));
    return this.expose();
  }

  /** The whole registry in text format 0.0.4, as it stands (collectors are not run). */
  expose(): string {
    return [...this.#families.values()].map((f) => f.expose()).join("");
  }

  #register<F extends { name: string; expose(): string }>(family: F): F {
    if (this.#families.has(family.name)) throw new RangeError(`Metric ${family.name} is already registered`);
    this.#families.set(family.name, family);
    return family;
  }
}

/**
 * controller-runtime's controller and work-queue metrics (`controller_runtime_reconcile_*`,
 * `workqueue_*`) for every ControllerLoop (runtime/controller-loop.ts), registered once per
 * registry: the controller's loop and the gateway's share it when one process runs both.
 */
export function registerControllerMetrics(registry: Registry): ControllerLoopMetrics {
  const reconcileTotal = registry.counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"],
  });
  const reconcileErrors = registry.counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"],
  });
  const reconcileTime = registry.histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"],
    buckets: RECONCILE_TIME_BUCKETS,
  });
  const depth = registry.gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: ["name"] });
  const adds = registry.counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by workqueue",
    labelNames: ["name"],
  });
  const retries = registry.counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames: ["name"],
  });
  const queueDuration = registry.histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: ["name"],
    buckets: WORKQUEUE_DURATION_BUCKETS,
  });
  const workDuration = registry.histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from workqueue takes.",
    labelNames: ["name"],
    buckets: WORKQUEUE_DURATION_BUCKETS,
  });
  return {
    reconciles(controller) {
      return {
        initialize(result) {
          reconcileTotal.inc({ controller, result }, 0);
          if (result === "error") reconcileErrors.inc({ controller }, 0);
        },
        observe(result, seconds) {
          reconcileTotal.inc({ controller, result });
          if (result === "error") reconcileErrors.inc({ controller });
          reconcileTime.observe({ controller }, seconds);
        },
      };
    },
    workQueue(name) {
      const labels = { name };
      // A queue's series exist from its creation (client-go's metrics provider), so rate() and alerts see 0.
      depth.set(labels, 0);
      adds.inc(labels, 0);
      retries.inc(labels, 0);
      return {
        depth: (n) => depth.set(labels, n),
        added: () => adds.inc(labels),
        retried: () => retries.inc(labels),
        queueDuration: (s) => queueDuration.observe(labels, s),
        workDuration: (s) => workDuration.observe(labels, s),
      };
    },
  };
}

/** Whether this replica leads (reconciles): client-go's `leader_election_master_status`. */
export interface LeaderElectionMetrics {
  leading(isLeader: boolean): void;
}

/** `leader_election_master_status{name="tunnelkeeper-controller"}`, at 0 until the controller leads. */
export function registerLeaderElectionMetrics(registry: Registry): LeaderElectionMetrics {
  const leader = registry.gauge({
    name: "leader_election_master_status",
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ["name"],
  });
  leader.set({ name: CONTROLLER_LEASE_NAME }, 0);
  return { leading: (isLeader) => leader.set({ name: CONTROLLER_LEASE_NAME }, isLeader ? 1 : 0) };
}
