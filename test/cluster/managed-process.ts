/**
 * A control-plane component run as a child process with its output in a log file.
 *
 * Contract: `start()` resolves once the component's readiness probe passes (or rejects with the
 * log's tail when it exits or the deadline passes); `stop()` sends SIGTERM, then SIGKILL after a
 * grace period, and resolves when the process is gone; `restart()` is stop + start with the same
 * arguments (tests use it to restart the API server or KWOK under a running operator).
 * Detached processes outlive this Node process (`npm run cluster -- up`); they are stopped by pid.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Resolves true once the component serves; polled until `readyTimeoutMs`. */
  readonly probe: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
  readonly detached?: boolean;
}

const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;

export class ManagedProcess {
  readonly spec: ProcessSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    const { spec } = this;
    const log = openSync(spec.logFile, "a");
    const child = spawn(spec.command, spec.args, {
      env: { ...process.env, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost", ...spec.env },
      stdio: ["ignore", log, log],
      detached: spec.detached ?? false,
    });
    closeSync(log);
    if (spec.detached) child.unref();
    this.#child = child;
    let exitCode: number | null | undefined;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
    });
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));

    const deadline = Date.now() + (spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw new Error(`${spec.name} exited (code ${exitCode}) before it was ready; log tail:\n${tail(spec.logFile)}`);
      }
      const ready = await Promise.race([
        spec.probe().catch(() => false),
        spawnError.then((err) => {
          throw new Error(`${spec.name} could not be started: ${err.message}`);
        }),
      ]);
      if (ready) return;
      await sleep(250);
    }
    await this.stop();
    throw new Error(
      `${spec.name} was not ready within ${spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms; log tail:\n${tail(spec.logFile)}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killed = await Promise.race([this.#exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!killed) {
      child.kill("SIGKILL");
      await this.#exited;
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** Stops a process started detached by an earlier `up`, by pid: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}
