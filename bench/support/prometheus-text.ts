/**
 * Reading samples out of the Prometheus text exposition format (what `/metrics` serves). Pure.
 *
 * Contract: `sampleSum(text, name, labels)` adds up every sample of metric `name` whose labels
 * include all of `labels` (others may be present), and is `undefined` when no sample matches, so
 * a renamed or missing metric shows as missing rather than as 0. Comments, `_bucket`-style
 * suffixes of other metrics and timestamps are ignored.
 */

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function sampleSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (match[2] ?? "").matchAll(LABEL_PAIR)) found.set(pair[1]!, pair[2]!);
    if (!Object.entries(labels).every(([key, value]) => found.get(key) === value)) continue;
    total = (total ?? 0) + Number(match[3]);
  }
  return total;
}

/** The first of `names` that has a sample: for metrics renamed between Go or client versions. */
export function firstSampleSum(text: string, names: readonly string[]): number | undefined {
  for (const name of names) {
    const value = sampleSum(text, name);
    if (value !== undefined) return value;
  }
  return undefined;
}
