/**
 * Command-line flags, kubectl style: `--name=value`, `--name value`, `-n value`, `-nvalue`,
 * booleans as `--name` or `--name=true|false`, flags and positionals in any order, `--` ends flags.
 *
 * Each command accepts only the flags of its own table (command-specs.ts); anything else is a
 * FlagError naming the flag and where to look, which main.ts prints as one line with exit code 2.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly type: "string" | "boolean";
  /** May be given more than once (values collected in order). */
  readonly multiple?: boolean;
  /** The default as help shows it (`''` when there is none). */
  readonly default?: string;
  readonly usage: string;
}

export class FlagError extends Error {
  readonly code = "PF_ERR_FLAG";
}

export interface ParsedFlags {
  /** Values by flag name; repeated flags keep every value, others the last one. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

/** Parses `args` against `flags`; `where` names the command in error messages. */
export function parseFlags(args: readonly string[], flags: readonly FlagSpec[], where: string): ParsedFlags {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short !== undefined).map((f) => [f.short!, f]));
  // Non-strict tokens: we decide what is unknown, and what a missing value means, ourselves.
  const { tokens } = parseArgs({
    args: [...args],
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      flags.map((f) => [f.name, { type: f.type, ...(f.short ? { short: f.short } : {}) }]),
    ) as ParseArgsOptionsConfig,
  });
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === "option-terminator") continue;
    const spelled = token.rawName;
    const flag = spelled.startsWith("--") ? byName.get(token.name) : byShort.get(spelled.slice(1));
    if (flag === undefined) throw new FlagError(`unknown flag ${spelled} for "${where}"; see '${where} --help' for its flags`);
    let value: string;
    if (flag.type === "boolean") {
      value = token.value ?? "true";
      if (value !== "true" && value !== "false")
        throw new FlagError(`${spelled} is a boolean flag: use ${spelled} or ${spelled}=false, got "${value}"`);
    } else {
      if (token.value === undefined) throw new FlagError(`flag needs an argument: ${spelled} (see '${where} --help')`);
      value = token.value;
    }
    const list = values.get(flag.name) ?? [];
    if (flag.multiple) list.push(value);
    else list.splice(0, list.length, value);
    values.set(flag.name, list);
  }
  return { values, positionals };
}

/** The last value of a flag, or `undefined` when it was not given. */
export function flagValue(parsed: ParsedFlags, name: string): string | undefined {
  return parsed.values.get(name)?.at(-1);
}

export function flagBoolean(parsed: ParsedFlags, name: string): boolean {
  return flagValue(parsed, name) === "true";
}

/** Every value of a repeatable flag, each also split on commas (`-n a,b -n c` → a, b, c). */
export function flagList(parsed: ParsedFlags, name: string): string[] {
  return (parsed.values.get(name) ?? []).flatMap((v) => v.split(",")).filter((v) => v !== "");
}
