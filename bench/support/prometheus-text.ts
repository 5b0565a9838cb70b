/**
 * Reading samples out of the Prometheus text exposition format (what `/metrics` serves). Pure.
 *
 * Contract: `sampleSum(text, name, labels)` adds up every sample of metric `name` whose labels
 * include all of `labels` (others may be present), and is `undefined` when no sample matches, so
 * a renamed or missing metric shows as missing rather than as 0. Comments, `_bucket`-style
 * suffixes of other metrics and timestamps are ignored.
 *
 * For many figures from one scrape, `parseSamples` parses it once and `select` / `sumOf` read
 * from the result (`sumOf` is 0 when nothing matches: for families that are absent until first
 * used, such as a queue's counters).
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

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(LABEL_PAIR)].map((m) => [m[1], m[2]]));
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples named `name` whose labels include every pair of `where`. */
export function select(samples: readonly Sample[], name: string, where: Readonly<Record<string, string>> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the selected samples (0 when there are none). */
export function sumOf(samples: readonly Sample[], name: string, where: Readonly<Record<string, string>> = {}): number {
  return select(samples, name, where).reduce((sum, s) => sum + s.value, 0);
}
