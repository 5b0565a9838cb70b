/**
 * Preloaded into a `tunnelkeeper forward` under test (`node --import …/forwarder-probe.ts`,
 * with TK_BENCH_PROBE_FILE naming the output): records, without touching the forwarder's code,
 * - every connection's timings from the tunnel engine's diagnostics channel
 *   (`tunnelkeeper:tunnel:connection`, see src/tunnel/port-forward-connection.ts);
 * - every garbage collection (PerformanceObserver 'gc': start, duration, kind);
 * - the event loop's delay (monitorEventLoopDelay, 1 ms resolution) as percentiles;
 * and writes them as JSON when the process exits. Benchmarks use it to explain latency tails.
 */
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

const file = process.env.TK_BENCH_PROBE_FILE;
if (file !== undefined && file !== "") {
  const connections: unknown[] = [];
  const gcs: { startTime: number; duration: number; kind: number }[] = [];
  subscribe("tunnelkeeper:tunnel:connection", (message) => connections.push(message));
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as unknown as { detail?: { kind?: number } }).detail;
      gcs.push({ startTime: entry.startTime, duration: entry.duration, kind: detail?.kind ?? 0 });
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.on("exit", () => {
    loop.disable();
    const ms = (ns: number) => ns / 1e6;
    writeFileSync(
      file,
      JSON.stringify({
        timeOrigin: performance.timeOrigin,
        eventLoopDelayMs: {
          p50: ms(loop.percentile(50)),
          p99: ms(loop.percentile(99)),
          p999: ms(loop.percentile(99.9)),
          max: ms(loop.max),
        },
        gcs,
        connections,
      }),
    );
  });
}
