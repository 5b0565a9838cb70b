/**
 * Generates the chart's README (charts/tunnelkeeper/README.md) from README.md.gotmpl and the
 * `# --` comments of values.yaml, in the helm-docs convention:
 *
 * - a `# -- text` comment (continued by the `#` lines after it) documents the key below it; the
 *   key becomes one row of the values table, its default the whole value below it;
 * - a mapping without such a comment is not a row: its keys are, one level down.
 *
 *   node scripts/generate-chart-readme.ts            writes the README
 *   node scripts/generate-chart-readme.ts --check    exits 1 if the README differs (the drift test runs this)
 *
 * A value without a description is an error: every value a user can set is documented.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const CHART_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "charts", "tunnelkeeper");
export const README = join(CHART_DIR, "README.md");
const TEMPLATE = join(CHART_DIR, "README.md.gotmpl");
const VALUES = join(CHART_DIR, "values.yaml");
const PLACEHOLDER = '{{ template "chart.valuesTable" . }}';

export interface ValueRow {
  readonly key: string;
  readonly type: string;
  readonly default: unknown;
  readonly description: string;
}

const KEY_LINE = /^( *)([A-Za-z0-9_.-]+):(?: |$)/;

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  return typeof value === "boolean" ? "bool" : "string";
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<string, unknown>)[key];
  return value;
}

/** The rows of the values table, in the order of values.yaml. */
export function valueRows(valuesYaml: string): ValueRow[] {
  const values = parse(valuesYaml) as Record<string, unknown>;
  const rows: ValueRow[] = [];
  const stack: { indent: number; key: string; documented: boolean }[] = [];
  let comment: string[] = [];
  for (const line of valuesYaml.split("\n")) {
    const trimmed = line.trimStart();
    if (trimmed.startsWith("#")) {
      const text = trimmed.replace(/^# ?/, "");
      if (text.startsWith("-- ")) comment = [text.slice(3)];
      else if (comment.length > 0) comment.push(text);
      continue;
    }
    const match = KEY_LINE.exec(line);
    if (match === null) {
      if (trimmed === "") comment = [];
      continue;
    }
    const indent = match[1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const underDocumented = stack.some((s) => s.documented);
    const path = [...stack.map((s) => s.key), match[2]!];
    const value = lookup(values, path);
    const description = comment.join(" ").trim();
    comment = [];
    stack.push({ indent, key: match[2]!, documented: description !== "" || underDocumented });
    if (underDocumented) continue;
    const isMap = typeOf(value) === "object" && Object.keys(value as object).length > 0;
    if (description === "" && isMap) continue; // its keys are the rows
    rows.push({ key: path.join("."), type: typeOf(value), default: value, description });
  }
  return rows;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function renderValuesTable(rows: readonly ValueRow[]): string {
  const lines = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"];
  for (const row of rows) {
    lines.push(`| ${row.key} | ${row.type} | \`${cell(JSON.stringify(row.default))}\` | ${cell(row.description)} |`);
  }
  return lines.join("\n");
}

/** The README as it should be; throws when a value has no description. */
export function renderReadme(template = readFileSync(TEMPLATE, "utf8"), valuesYaml = readFileSync(VALUES, "utf8")): string {
  const rows = valueRows(valuesYaml);
  const undocumented = rows.filter((r) => r.description === "").map((r) => r.key);
  if (undocumented.length > 0) throw new Error(`values without a "# --" description: ${undocumented.join(", ")}`);
  if (!template.includes(PLACEHOLDER)) throw new Error(`README.md.gotmpl has no ${PLACEHOLDER}`);
  const chart = parse(readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8")) as { version: string; appVersion: string };
  return template
    .replace(PLACEHOLDER, renderValuesTable(rows))
    .replaceAll('{{ template "chart.version" . }}', chart.version)
    .replaceAll('{{ template "chart.appVersion" . }}', chart.appVersion);
}

if (import.meta.main) {
  const expected = renderReadme();
  if (process.argv.includes("--check")) {
    if (readFileSync(README, "utf8") !== expected) {
      process.stderr.write(`${README} is out of date: run node scripts/generate-chart-readme.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(README, expected);
  }
}
