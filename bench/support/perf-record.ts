/**
 * `perf record` of one process for the span of a phase, and where its samples went, for
 * forwarders of any language (the Go kubectl has no `--cpu-prof`): the kernel's share split by
 * the system call a sample is under, and the rest by binary (`node`, libc, JIT code, kubectl).
 *
 * Contract: `startPerfRecord` resolves once perf is attached; `stop()` ends it with SIGINT (perf
 * writes its file on that) and resolves the split. Shares are of the process's own samples, so
 * multiplying one by the phase's CPU seconds (from /proc, the benchmark's reading) gives that
 * category's seconds. perf must be on PATH (`linux-perf` in Debian); profiling tools only, never
 * in the suite.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Kernel entry points whose inclusive share ("children") is reported, by label. */
const SYSTEM_CALLS: ReadonlyArray<readonly [label: string, symbols: readonly string[]]> = [
  ["write/writev", ["ksys_write", "do_writev"]],
  ["read", ["ksys_read"]],
  ["epoll_wait", ["do_epoll_wait"]],
  ["futex", ["do_futex"]],
];

export interface PerfSplit {
  /** label → share of samples (0..1): system calls (inclusive), then `kernel, other` and binaries. */
  readonly shares: ReadonlyMap<string, number>;
}

export interface PerfRecording {
  stop(): Promise<PerfSplit>;
}

function percentOf(line: string): number {
  return Number(/^\s*([\d.]+)%/.exec(line)?.[1] ?? 0) / 100;
}

async function report(file: string, args: string[]): Promise<string[]> {
  const { stdout } = await execFileAsync("perf", ["report", "-i", file, "--stdio", "-g", "none", ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
}

async function split(file: string): Promise<PerfSplit> {
  const shares = new Map<string, number>();
  const bySymbol = await report(file, ["--children", "--sort", "symbol"]);
  let systemCalls = 0;
  for (const [label, symbols] of SYSTEM_CALLS) {
    const share = bySymbol
      .filter((line) => symbols.includes(/\[k\] (\S+)/.exec(line)?.[1] ?? ""))
      .reduce((sum, line) => sum + percentOf(line), 0);
    shares.set(`kernel, ${label}`, share);
    systemCalls += share;
  }
  const byBinary = await report(file, ["--no-children", "--sort", "dso"]);
  for (const line of byBinary) {
    // `  12.34%  node   ` (the column is padded to the terminal width).
    const binary = line
      .replace(/^\s*[\d.]+%\s+/, "")
      .trim()
      .split(/\s{2,}/)[0]!;
    const share = percentOf(line);
    if (binary === "[kernel.kallsyms]") shares.set("kernel, other", Math.max(0, share - systemCalls));
    else if (share >= 0.005) {
      const label = binary.startsWith("[JIT]") ? "JIT code" : binary;
      shares.set(label, (shares.get(label) ?? 0) + share);
    }
  }
  return { shares };
}

export async function startPerfRecord(pid: number, file: string): Promise<PerfRecording> {
  const child: ChildProcess = spawn("perf", ["record", "-g", "-F", "999", "-o", file, "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", (error) => reject(new Error(`perf record could not start (${error.message}); install linux-perf`)));
    child.once("exit", (code) => resolve(code));
  });
  // perf has no "attached" signal; it attaches within a few milliseconds of starting.
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (child.exitCode !== null) throw new Error(`perf record exited (${child.exitCode}): ${stderr.trim()}`);
  return {
    async stop() {
      child.kill("SIGINT");
      const code = await exited;
      if (code !== 0 && code !== null) throw new Error(`perf record failed (${code}): ${stderr.trim()}`);
      return split(file);
    },
  };
}

/** `12.3 %  0.41 s  label` lines, largest first, the seconds being that share of `cpuSeconds`. */
export function formatSplit(result: PerfSplit, cpuSeconds: number): string[] {
  return [...result.shares]
    .sort((a, b) => b[1] - a[1])
    .map(([label, share]) => `${(share * 100).toFixed(1).padStart(5)} %  ${(share * cpuSeconds).toFixed(2)} s  ${label}`);
}
