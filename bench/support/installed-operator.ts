/**
 * A controller or gateway process as the chart installs it, for benchmarks: the shipped bundle
 * (shipped.ts), not src/main.ts, under the memory limit of that component's container
 * (memory-limit.ts; `run`, both in one process, gets the gateway's), with the image's NODE_OPTIONS
 * before any the benchmark adds for its probes.
 */
import { type OperatorProcess, type OperatorProcessOptions, startOperatorProcess } from "../../test/support/operator-process.ts";
import { chartMemoryLimitBytes, memoryLimit } from "./memory-limit.ts";
import { imageNodeOptions, shippedCli } from "./shipped.ts";

export interface InstalledOperatorProcess extends OperatorProcess {
  /** The memory limit it runs under; null when none could be applied (memory-limit.ts). */
  readonly memoryLimitBytes: number | null;
}

export async function startInstalledOperator(
  options: Omit<OperatorProcessOptions, "entry" | "launchPrefix"> & {
    /** A bundle built elsewhere (another commit's, for an A/B run); default this tree's (shipped.ts). */
    readonly bundle?: string;
  },
): Promise<InstalledOperatorProcess> {
  const limit = memoryLimit(chartMemoryLimitBytes(options.command === "controller" ? "controller" : "gateway"));
  try {
    const nodeOptions = [imageNodeOptions(), options.env?.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ""].join(" ").trim();
    const started = await startOperatorProcess({
      ...options,
      env: { ...options.env, NODE_OPTIONS: nodeOptions },
      entry: options.bundle ?? shippedCli(),
      launchPrefix: limit.launchPrefix,
    });
    started.child.once("exit", () => limit.remove());
    return Object.assign(started, { memoryLimitBytes: limit.limitBytes });
  } catch (error) {
    limit.remove();
    throw error;
  }
}
