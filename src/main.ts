#!/usr/bin/env node
/**
 * tunnelkeeper's composition root: parse the configuration, build the logger, hand over to the
 * command. No logic lives here.
 */
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { createLogger } from "./observability/log.ts";

async function main(config: Config): Promise<number> {
  // `forward` keeps stdout for its "Forwarding from" lines, like kubectl.
  const log = createLogger({
    level: config.common.logLevel,
    ...(config.command === "forward" ? { sink: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  switch (config.command) {
    case "controller":
    case "gateway":
    case "run": {
      const { buildOperator } = await import("./commands/operator.ts");
      const operator = buildOperator({
        common: config.common,
        log,
        ...(config.command === "gateway" ? {} : { controller: config.controller }),
        ...(config.command === "controller" ? {} : { gateway: config.gateway }),
      });
      log.info("Starting", {
        command: config.command,
        metrics: `${config.common.metricsBindAddress.host}:${config.common.metricsBindAddress.port}`,
      });
      await operator.manager.start();
      return 0;
    }
    case "dev": {
      const { runDev } = await import("./commands/dev.ts");
      return runDev(config, log);
    }
    case "forward": {
      const { runForward } = await import("./commands/forward.ts");
      return runForward(config, log);
    }
  }
}

let config: Config;
try {
  config = parseConfig(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`tunnelkeeper: ${error.message}\n`);
  process.exit(2);
}
main(config).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tunnelkeeper: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
