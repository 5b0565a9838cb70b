#!/usr/bin/env node
/**
 * tunnelkeeper's composition root: parse the configuration, build the logger, hand over to the
 * command. No logic lives here.
 *
 * Exit codes: 0 after a clean stop (SIGINT/SIGTERM included), 1 when a command fails (one line:
 * the reason and what to do; a stack trace only for bugs), 2 for usage errors, 130 when a second
 * Ctrl-C cuts a graceful stop short.
 */
import { basename } from "node:path";
import { describeFailure } from "./commands/command-error.ts";
import { commandHelp, rootHelp } from "./commands/help.ts";
import { exitOnSecondSignal } from "./commands/signals.ts";
import { type Config, ConfigError, type LogFormat, parseConfig } from "./config.ts";
import { createLogger, type Logger } from "./observability/log.ts";
import { applyGcPolicy } from "./runtime/gc-policy.ts";

/** `kubectl tunnelkeeper` when kubectl runs us as its plugin `kubectl-tunnelkeeper`. */
const program = basename(process.argv[1] ?? "").startsWith("kubectl-") ? "kubectl tunnelkeeper" : "tunnelkeeper";

function buildLogger(config: Extract<Config, { common: unknown }>): Logger {
  // `forward` keeps stdout for its "Forwarding from" lines, like kubectl.
  const stream = config.command === "forward" ? process.stderr : process.stdout;
  const format: LogFormat = config.common.logFormat === "auto" ? (stream.isTTY ? "text" : "json") : config.common.logFormat;
  return createLogger({ level: config.common.logLevel, format, sink: (line: string) => stream.write(`${line}\n`) });
}

async function main(config: Config): Promise<number> {
  switch (config.command) {
    case "help":
      process.stdout.write(config.topic === undefined ? rootHelp(program) : commandHelp(config.topic, program));
      return 0;
    case "version": {
      const { printVersion } = await import("./commands/version.ts");
      printVersion(config.output);
      return 0;
    }
    case "controller":
    case "gateway":
    case "run": {
      exitOnSecondSignal();
      const log = buildLogger(config);
      const { runOperator } = await import("./commands/operator.ts");
      return runOperator(config, log);
    }
    case "forward": {
      exitOnSecondSignal();
      applyGcPolicy();
      const log = buildLogger(config);
      const { runForward } = await import("./commands/forward.ts");
      return runForward(config, log);
    }
  }
}

let config: Config;
try {
  config = parseConfig(process.argv.slice(2), process.env, { program });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(2);
}
main(config).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const line = describeFailure(error);
    process.stderr.write(
      line === undefined ? `${program}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n` : `error: ${line}\n`,
    );
    process.exit(1);
  },
);
