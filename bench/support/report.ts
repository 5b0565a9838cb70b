/** A two-column table on stdout for benchmark results. */
export function printTable(title: string, rows: readonly (readonly [string, string])[]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    title,
    "-".repeat(Math.max(title.length, width + 20)),
    ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
