/**
 * `npm run bench -- profile-tunnel [--direction upload|download|connect] [--bytes N] [--connections N] [--out DIR]
 *   [--forwarder tunnelkeeper|kubectl] [--perf] [--no-profile] [--probe] [--node-option OPT]...`
 *
 * One `tunnelkeeper forward` under `node --cpu-prof`, one phase of the tunnel benchmark (a 1 GiB
 * upload or download, or sequential new connections), then the forwarder stops and writes its
 * .cpuprofile to --out (default ./profiles). Prints the forwarder's CPU seconds for the phase
 * and the top self-time functions of the profile. For finding where the CPU goes, not a figure.
 * `--forwarder kubectl` runs the same phase on `kubectl port-forward` (no .cpuprofile); `--perf`
 * records the forwarder with `perf record` for the phase (support/perf-record.ts) and prints the
 * split by system call and binary, the same reading for both forwarders.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { startControlPlane } from "../test/cluster/control-plane.ts";
import { createBackedPod } from "../test/cluster/pods.ts";
import { startEcho, startSink, startSource } from "./support/backends.ts";
import { download, roundTrip, upload } from "./support/client.ts";
import { topSelfTime } from "./support/cpu-profile.ts";
import { startKubectlPortForward, startTunnelkeeperForward } from "./support/forwarders.ts";
import { percentile } from "./support/parallel.ts";
import { formatSplit, startPerfRecord } from "./support/perf-record.ts";
import { cpuSeconds } from "./support/process-stats.ts";

/** CPU seconds per thread name (main thread, V8 workers, libuv pool) from /proc/<pid>/task. */
function threadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const key = tid === String(pid) ? "main" : name;
      byName.set(key, (byName.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return byName;
}

interface ProbeConnection {
  requestId: string;
  openedAt: number;
  errorReplyMs: number;
  dataReplyMs: number;
  firstWriteMs: number;
  firstDataMs: number;
  firstPushMs: number;
}

/**
 * Splits each sampled connection's client-side latency into: before the tunnel saw it (accept,
 * choosing a tunnel), waiting for the data stream's SYN_REPLY (the server side: API server,
 * kubelet or KWOK, and back), the echo's round trip after both the reply and the byte were
 * there, and after the echo reached the tunnel (our flush, the client socket); and checks each
 * against the forwarder's GC pauses. Compares the slowest 1 % with all.
 */
function explainLatency(samples: readonly { startedAt: number; ms: number }[], probeFile: string): string {
  const probe = JSON.parse(readFileSync(probeFile, "utf8")) as {
    timeOrigin: number;
    eventLoopDelayMs: Record<string, number>;
    gcs: { startTime: number; duration: number; kind: number }[];
    connections: ProbeConnection[];
  };
  const connections = [...probe.connections].sort((a, b) => Number(a.requestId) - Number(b.requestId)).slice(-samples.length);
  const rows = samples.map((sample, i) => {
    const c = connections[i]!;
    const opened = probe.timeOrigin + c.openedAt;
    const end = sample.startedAt + sample.ms;
    const gcMs = probe.gcs
      .map((gc) => {
        const start = probe.timeOrigin + gc.startTime;
        return Math.max(0, Math.min(end, start + gc.duration) - Math.max(sample.startedAt, start));
      })
      .reduce((a, b) => a + b, 0);
    const ready = Math.max(c.dataReplyMs, c.firstWriteMs);
    return {
      total: sample.ms,
      beforeTunnel: opened - sample.startedAt,
      synReply: c.dataReplyMs,
      echo: c.firstDataMs - ready,
      afterEcho: end - (opened + c.firstDataMs),
      gcMs,
    };
  });
  const sorted = [...rows].sort((a, b) => a.total - b.total);
  const slow = sorted.slice(Math.floor(sorted.length * 0.99));
  const mean = (list: typeof rows, key: keyof (typeof rows)[number]) => list.reduce((sum, r) => sum + r[key], 0) / list.length;
  const keys = ["total", "beforeTunnel", "synReply", "echo", "afterEcho", "gcMs"] as const;
  const line = (label: string, list: typeof rows) =>
    `${label.padEnd(16)} ${keys.map((k) => `${k} ${mean(list, k).toFixed(2)}`).join("  ")}`;
  const gcPauses = probe.gcs.map((g) => g.duration).sort((a, b) => b - a);
  return [
    "latency breakdown (mean ms; synReply = SYN_STREAM sent → data stream's SYN_REPLY, the server side):",
    line("all", rows),
    line(`slowest ${slow.length}`, slow),
    `slowest with a GC pause overlapping: ${slow.filter((r) => r.gcMs > 0).length} of ${slow.length}; all: ${rows.filter((r) => r.gcMs > 0).length} of ${rows.length}`,
    `forwarder GCs during the run: ${probe.gcs.length}, longest ${gcPauses
      .slice(0, 5)
      .map((d) => d.toFixed(1))
      .join(", ")} ms`,
    `forwarder event-loop delay: ${JSON.stringify(probe.eventLoopDelayMs)}`,
    "slowest 10:",
    ...sorted.slice(-10).map((r) => `  ${keys.map((k) => `${k} ${r[k].toFixed(2)}`).join("  ")}`),
    "",
  ].join("\n");
}

export async function run(argv: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args: argv,
    options: {
      direction: { type: "string", default: "upload" },
      bytes: { type: "string", default: String(1024 * 1024 * 1024) },
      connections: { type: "string", default: "2000" },
      out: { type: "string", default: "profiles" },
      "node-option": { type: "string", multiple: true, default: [] },
      "no-profile": { type: "boolean", default: false },
      probe: { type: "boolean", default: false },
      forwarder: { type: "string", default: "tunnelkeeper" },
      perf: { type: "boolean", default: false },
    },
  });
  if (values.forwarder !== "tunnelkeeper" && values.forwarder !== "kubectl") {
    throw new Error(`--forwarder must be tunnelkeeper or kubectl, not ${values.forwarder}`);
  }
  const kubectlForwarder = values.forwarder === "kubectl";
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const before = new Set(readdirSync(out));
  const bytes = Number(values.bytes);
  const probeFile = join(out, `probe-${process.pid}.json`);
  const plane = await startControlPlane();
  const [echo, source, sink] = await Promise.all([startEcho(), startSource(), startSink()]);
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.state.kubeconfig);
    await createBackedPod(kubeConfig, {
      namespace: "bench",
      name: "backend",
      ports: [
        { podPort: 8080, host: "127.0.0.1", port: echo.port },
        { podPort: 8081, host: "127.0.0.1", port: source.port },
        { podPort: 8082, host: "127.0.0.1", port: sink.port },
      ],
    });
    const target = { kubeconfig: plane.state.kubeconfig, namespace: "bench", resource: "pod/backend", remotePorts: [8080, 8081, 8082] };
    const forwarder = kubectlForwarder
      ? await startKubectlPortForward(plane.state.kubectl, target)
      : await startTunnelkeeperForward(target, {
          cpuProfDir: values["no-profile"] ? undefined : out,
          nodeOptions: values["node-option"],
          probeFile: values.probe ? probeFile : undefined,
        });
    for (let i = 0; i < 20; i++) await roundTrip(forwarder.ports.get(8080)!);
    const cpuBefore = cpuSeconds(forwarder.pid);
    const threadsBefore = threadCpu(forwarder.pid);
    const perf = values.perf ? await startPerfRecord(forwarder.pid, join(out, `perf-${forwarder.name}-${process.pid}.data`)) : null;
    let summary: string;
    const samples: { startedAt: number; ms: number }[] = [];
    if (values.direction === "connect") {
      const latencies: number[] = [];
      for (let i = 0; i < Number(values.connections); i++) {
        const startedAt = performance.timeOrigin + performance.now();
        const ms = await roundTrip(forwarder.ports.get(8080)!);
        latencies.push(ms);
        samples.push({ startedAt, ms });
      }
      latencies.sort((a, b) => a - b);
      summary = `p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, p99.9 ${percentile(latencies, 0.999).toFixed(2)} ms`;
    } else {
      const seconds =
        values.direction === "download"
          ? await download(forwarder.ports.get(8081)!, bytes)
          : await upload(forwarder.ports.get(8082)!, bytes);
      summary = `${(bytes / 1048576 / seconds).toFixed(1)} MiB/s`;
    }
    const perfSplit = perf === null ? null : await perf.stop();
    const cpu = cpuSeconds(forwarder.pid) - cpuBefore;
    const threads = [...threadCpu(forwarder.pid)]
      .map(([name, seconds]) => [name, seconds - (threadsBefore.get(name) ?? 0)] as const)
      .filter(([, seconds]) => seconds > 0)
      .map(([name, seconds]) => `${name} ${seconds.toFixed(2)} s`)
      .join(", ");
    await forwarder.stop();
    if (values.probe && samples.length > 0) process.stdout.write(explainLatency(samples, probeFile));
    const gcLines = forwarder.output.filter((line) => /\b(Scavenge|Mark-Compact|Mark-sweep|Minor|MinorMS)\b/.test(line));
    if (gcLines.length > 0) {
      const kinds = new Map<string, number>();
      for (const line of gcLines) {
        const kind = /\b(Scavenge|Mark-Compact|Mark-sweep|MinorMS|Minor Mark-Sweep)\b/.exec(line)?.[1] ?? "?";
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      // Every full collection (they are few, and their reasons say what started them), then the last scavenges.
      const full = gcLines.filter((line) => !/\bScavenge\b/.test(line));
      const scavenges = gcLines.filter((line) => /\bScavenge\b/.test(line)).slice(-3);
      process.stdout.write(`GC events (whole run): ${JSON.stringify(Object.fromEntries(kinds))}\n${[...full, ...scavenges].join("\n")}\n`);
    }
    if (perfSplit !== null) {
      process.stdout.write(`perf record of ${forwarder.name} during the phase (share of its samples, seconds of its CPU):\n`);
      process.stdout.write(`${formatSplit(perfSplit, cpu).join("\n")}\n`);
    }
    const written = readdirSync(out).filter((f) => !before.has(f) && f.endsWith(".cpuprofile"));
    const file = join(out, written[0] ?? "");
    const top = written.length === 0 ? [] : topSelfTime(file, 25);
    process.stdout.write(
      `${values.direction} (${forwarder.name}): ${summary}, forwarder CPU ${cpu.toFixed(2)} s (${(cpu / (bytes / 1073741824)).toFixed(2)} s/GiB; by thread: ${threads})\nprofile ${file}\n` +
        `${top.join("\n")}\n`,
    );
    return { direction: values.direction, cpuSeconds: cpu, profile: file };
  } finally {
    echo.server.close();
    source.server.close();
    sink.server.close();
    await plane.stop();
  }
}
