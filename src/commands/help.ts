/**
 * Help text in kubectl's layout: description, Examples, Options (every flag with its default),
 * Usage. Rendered from command-specs.ts, the same table the parser uses.
 */
import { COMMAND_SPECS, COMMANDS, type Command } from "./command-specs.ts";

const ROOT_DESCRIPTION = [
  "tunnelkeeper keeps port-forward tunnels alive behind Services: a PortForward resource in the cluster,",
  "or `forward` on a laptop as a drop-in for kubectl port-forward.",
].join("\n");

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? "" : `${prefix}${line}`))
    .join("\n");
}

/** Help of one command; `program` is `tunnelkeeper` or `kubectl tunnelkeeper`. */
export function commandHelp(command: Command, program: string): string {
  const spec = COMMAND_SPECS[command];
  const lines = [spec.description, "", "Examples:"];
  for (const example of spec.examples) lines.push(`  # ${example.comment}`, `  ${program} ${example.args}`, "");
  lines.push("Options:");
  for (const flag of spec.flags) {
    const names = flag.short === undefined ? `--${flag.name}` : `-${flag.short}, --${flag.name}`;
    lines.push(`    ${names}=${flag.default ?? "''"}:`, indent(flag.usage, "\t"), "");
  }
  lines.push("Usage:", `  ${program} ${command} ${spec.usage.replaceAll("{program}", program)}`, "");
  return `${lines.join("\n")}\n`;
}

/** The list of commands (`tunnelkeeper --help`). */
export function rootHelp(program: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.length)) + 2;
  const lines = [ROOT_DESCRIPTION, "", "Commands:"];
  for (const command of COMMANDS) lines.push(`  ${command.padEnd(width)}${COMMAND_SPECS[command].summary}`);
  lines.push(
    "",
    "Options:",
    "    -h, --help=false:",
    "\tShow this help and exit.",
    "",
    "    --version=false:",
    "\tPrint the tunnelkeeper and Node.js versions and exit.",
    "",
    "Usage:",
    `  ${program} COMMAND [options]`,
    "",
    `Use "${program} <command> --help" for more information about a command.`,
    "",
  );
  return `${lines.join("\n")}\n`;
}
