/**
 * A command line process under test (tunnelkeeper's CLI or kubectl): its stdout and stderr lines
 * as they come, waiting for a line, and stopping it the way a terminal does — SIGINT to its whole
 * process group, as Ctrl-C sends it — with the time it took to exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
export const MAIN = join(REPO_ROOT, "src", "main.ts");

export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout line matching `pattern` (rejects if the process exits first). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Exit code (128 + n when killed by signal n). */
  readonly exited: Promise<number>;
  /** Sends `signal` to the process group; resolves the exit code and how long exiting took. */
  interrupt(signal?: NodeJS.Signals): Promise<{ code: number; ms: number }>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startCli(file: string, args: readonly string[], t: TestContext, env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(file, [...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, like a job in a shell
    env: { ...process.env, KUBECONFIG: "", ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  createInterface({ input: child.stdout! }).on("line", (line) => {
    stdout.push(line);
    notify();
  });
  createInterface({ input: child.stderr! }).on("line", (line) => {
    stderr.push(line);
    notify();
  });
  const exited = new Promise<number>((resolve) => {
    child.once("close", (code, signal) => {
      resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ""] ?? 0));
      notify();
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  t.after(() => {
    if (running()) process.kill(-child.pid!, "SIGKILL");
  });
  return {
    child,
    stdout,
    stderr,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          for (const line of stdout) {
            const match = pattern.exec(line);
            if (match) return finish(undefined, match);
          }
          if (!running()) finish(new Error(`${file} exited before printing ${pattern}`));
        };
        const finish = (error?: Error, match?: RegExpExecArray) => {
          clearTimeout(deadline);
          waiters.delete(check);
          if (error) reject(new Error(`${error.message}\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr.join("\n")}`));
          else resolve(match!);
        };
        waiters.add(check);
        check();
      });
    },
    async interrupt(signal = "SIGINT") {
      const started = performance.now();
      if (running()) process.kill(-child.pid!, signal);
      const code = await exited;
      return { code, ms: performance.now() - started };
    },
  };
}

/** Runs to completion; resolves code, output and how long it ran. */
export async function runCli(
  file: string,
  args: readonly string[],
  t: TestContext,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string[]; stderr: string[]; ms: number }> {
  const started = performance.now();
  const cli = startCli(file, args, t, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout, stderr: cli.stderr, ms: performance.now() - started };
}
