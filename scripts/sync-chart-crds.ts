/**
 * Copies the generated CRDs (crds/*.yaml) into the Helm chart as templates
 * (charts/tunnelkeeper/templates/crds/), so that `helm upgrade` upgrades them too (Helm never
 * upgrades files in a chart's crds/ directory).
 *
 *   node scripts/sync-chart-crds.ts            writes the chart copies
 *   node scripts/sync-chart-crds.ts --check    exits 1 if a chart copy differs from crds/
 *
 * Each copy is the generated YAML unchanged, wrapped in the `crds.enabled` gate, with the
 * `helm.sh/resource-policy: keep` annotation (gated by `crds.keep`) added to its metadata.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const CRDS_DIR = join(REPO_ROOT, "crds");
export const CHART_CRDS_DIR = join(REPO_ROOT, "charts", "tunnelkeeper", "templates", "crds");

const GATE_OPEN = "{{- if .Values.crds.enabled }}\n";
const GATE_CLOSE = "{{- end }}\n";
const KEEP_ANNOTATION = ["    {{- if .Values.crds.keep }}", "    helm.sh/resource-policy: keep", "    {{- end }}"];

/** The names of the generated CRD files, sorted. */
export function listCrdFiles(dir: string = CRDS_DIR): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".yaml"))
    .sort();
}

/**
 * The chart template for one generated CRD. Throws when the YAML has a shape this
 * text transformation does not understand, rather than producing a wrong template.
 */
export function renderChartCrd(crdYaml: string): string {
  if (crdYaml.includes("{{") || crdYaml.includes("}}")) {
    throw new Error("the CRD contains '{{' or '}}', which Helm would read as template actions");
  }
  const lines = crdYaml.replace(/\n$/, "").split("\n");
  const metadata = lines.indexOf("metadata:");
  if (metadata < 0) throw new Error("the CRD has no top-level metadata:");
  let end = metadata + 1;
  while (end < lines.length && (lines[end]!.startsWith("  ") || lines[end] === "")) end++;
  const annotations = lines.findIndex((line, i) => i > metadata && i < end && line === "  annotations:");
  if (annotations >= 0) {
    if (lines[annotations + 1]?.startsWith("    ") !== true) {
      throw new Error("the CRD's metadata.annotations is not a block mapping");
    }
    lines.splice(annotations + 1, 0, ...KEEP_ANNOTATION);
  } else {
    // {{- trims the preceding newline, so the gated block adds nothing when crds.keep is false.
    lines.splice(end, 0, "  {{- if .Values.crds.keep }}", "  annotations:", "    helm.sh/resource-policy: keep", "  {{- end }}");
  }
  return `${GATE_OPEN}${lines.join("\n")}\n${GATE_CLOSE}`;
}

/** Writes (or with `check`, compares) every chart copy; returns the files that differed. */
export function syncChartCrds(options: { check?: boolean; crdsDir?: string; chartCrdsDir?: string } = {}): string[] {
  const crdsDir = options.crdsDir ?? CRDS_DIR;
  const chartCrdsDir = options.chartCrdsDir ?? CHART_CRDS_DIR;
  const differing: string[] = [];
  const expected = new Set<string>();
  for (const name of listCrdFiles(crdsDir)) {
    expected.add(name);
    const target = join(chartCrdsDir, name);
    const next = renderChartCrd(readFileSync(join(crdsDir, name), "utf8"));
    let current: string | undefined;
    try {
      current = readFileSync(target, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (current === next) continue;
    differing.push(target);
    if (!options.check) writeFileSync(target, next);
  }
  // A chart copy without a source in crds/ would install a CRD nobody generates any more.
  for (const name of listCrdFiles(chartCrdsDir)) {
    if (!expected.has(name)) differing.push(join(chartCrdsDir, name));
  }
  return differing;
}

function main(argv: readonly string[]): number {
  const check = argv.includes("--check");
  const differing = syncChartCrds({ check });
  if (check && differing.length > 0) {
    console.error(`out of date: ${differing.join(", ")}; run: node scripts/sync-chart-crds.ts`);
    return 1;
  }
  for (const file of differing) console.log(`${check ? "Differs" : "Wrote"} ${file}`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
