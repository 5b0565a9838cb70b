/**
 * `npm run bench -- <name> [args...] [--json FILE]`: runs `bench/<name>.ts`.
 *
 * Contract of a benchmark module: it exports `run(args: string[]): Promise<unknown>`, prints its
 * own human-readable table, and resolves a JSON-serialisable result. This dispatcher takes
 * `--json FILE` out of the arguments, passes the rest to `run`, and writes the result to FILE.
 * Benchmarks measure and report; they never fail on a figure.
 */
import { writeFileSync } from "node:fs";

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || !/^[a-z][a-z0-9-]*$/.test(name)) {
    process.stderr.write("usage: npm run bench -- <name> [args...] [--json FILE]   (runs bench/<name>.ts)\n");
    return 2;
  }
  const args: string[] = [];
  let jsonFile: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--json") jsonFile = rest[++i];
    else if (rest[i]?.startsWith("--json=")) jsonFile = rest[i]?.slice("--json=".length);
    else args.push(rest[i] as string);
  }
  const module = (await import(`./${name}.ts`)) as { run?: (args: string[]) => Promise<unknown> };
  if (typeof module.run !== "function") throw new Error(`bench/${name}.ts does not export run(args)`);
  const result = await module.run(args);
  if (jsonFile !== undefined) {
    writeFileSync(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    process.stderr.write(`wrote ${jsonFile}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
