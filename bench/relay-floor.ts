/**
 * `npm run bench -- relay-floor [--bytes N] [--rates 0,240] [--rounds N] [--perf]`
 *
 * The floor under the tunnel benchmark's download CPU: a plain Node.js relay (TCP in, TLS to the
 * upstream, `pipe` both ways, no WebSocket or SPDY framing), the same Node as the forwarder, the
 * same client (`download` of support/client.ts) and CPU reading (/proc utime + stime of the relay
 * process, just before and after each transfer). The source can be paced (`--rates`, MiB/s, 0 =
 * as fast as it goes), because CPU per GiB depends on the rate: a slower stream means fewer bytes
 * per event-loop turn and per wake-up. Compare a paced run with the tunnel benchmark's download at
 * the rate that run reached. Prints medians over rounds per rate; resolves them (JSON). `--perf`
 * records the relay over each rate's rounds with `perf record` into ./profiles (as profile-tunnel
 * does) and prints where its samples went (support/perf-record.ts), to set beside
 * `profile-tunnel --perf` of a forwarder.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPki } from "../test/cluster/pki.ts";
import { download } from "./support/client.ts";
import { median } from "./support/parallel.ts";
import { formatSplit, startPerfRecord } from "./support/perf-record.ts";
import { cpuSeconds } from "./support/process-stats.ts";

const GiB = 1024 * 1024 * 1024;

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
}

function startRole(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "support", "relay-floor-process.ts"), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`relay-floor ${args[0]} exited (${code}) before listening`)));
    child.stdout!.once("data", (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

function stop(started: Started): Promise<void> {
  return new Promise((resolve) => {
    if (started.child.exitCode !== null) return resolve();
    started.child.once("exit", () => resolve());
    started.child.kill("SIGTERM");
  });
}

export interface RelayFloorFigures {
  readonly rateMiBps: number;
  readonly downloadMiBps: number;
  readonly downloadCpuSecondsPerGiB: number;
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bytes: { type: "string", default: String(GiB) },
      rates: { type: "string", default: "0,240" },
      rounds: { type: "string", default: "3" },
      perf: { type: "boolean", default: false },
    },
  });
  const bytes = Number(values.bytes);
  const dir = mkdtempSync(join(tmpdir(), "tunnelkeeper-relay-floor-"));
  const results: RelayFloorFigures[] = [];
  try {
    const pki = createPki(dir, []);
    for (const rate of values.rates.split(",").map(Number)) {
      const source = await startRole(["source", pki.servingCert, pki.servingKey, String(rate)]);
      const relay = await startRole(["relay", String(source.port)]).catch(async (error: unknown) => {
        await stop(source);
        throw error;
      });
      try {
        const speeds: number[] = [];
        const cpus: number[] = [];
        const perfFile = join("profiles", `perf-relay-floor-${rate}-${process.pid}.data`);
        if (values.perf) mkdirSync("profiles", { recursive: true });
        const perf = values.perf ? await startPerfRecord(relay.child.pid!, perfFile) : null;
        const cpuAtStart = cpuSeconds(relay.child.pid!);
        for (let round = 0; round < Number(values.rounds); round++) {
          const before = cpuSeconds(relay.child.pid!);
          const seconds = await download(relay.port, bytes);
          cpus.push((cpuSeconds(relay.child.pid!) - before) / (bytes / GiB));
          speeds.push(bytes / 1048576 / seconds);
        }
        if (perf !== null) {
          const split = await perf.stop();
          process.stdout.write(`perf record of the relay over the rounds, ${perfFile} (share of its samples, seconds of its CPU):\n`);
          process.stdout.write(`${formatSplit(split, cpuSeconds(relay.child.pid!) - cpuAtStart).join("\n")}\n`);
        }
        const figures = { rateMiBps: rate, downloadMiBps: median(speeds), downloadCpuSecondsPerGiB: median(cpus) };
        results.push(figures);
        process.stdout.write(
          `plain Node relay, source ${rate === 0 ? "unpaced" : `paced to ${rate} MiB/s`}: ${figures.downloadMiBps.toFixed(1)} MiB/s, ` +
            `relay CPU ${figures.downloadCpuSecondsPerGiB.toFixed(2)} s/GiB (per round: ${cpus.map((c) => c.toFixed(2)).join(", ")})\n`,
        );
      } finally {
        await Promise.all([stop(relay), stop(source)]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { schema: 1, bytes, node: process.version, results };
}
