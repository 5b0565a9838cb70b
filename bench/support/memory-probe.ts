/**
 * Preloaded into a process under benchmark (`NODE_OPTIONS=--import …/memory-probe.ts`, with
 * TK_BENCH_MEMORY_FILE naming the output): samples `process.memoryUsage()` every 100 ms and keeps
 * the sample with the highest RSS, with V8's heap spaces at that moment, so a peak RSS can be
 * split into JavaScript heap, ArrayBuffers, other external memory and the rest (code, native
 * allocations, the heap's unused pages). Written as JSON when the process exits, with the last
 * sample before SIGTERM (`latest`: an idle process's figures before its shutdown begins).
 */
import { writeFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";

const file = process.env.TK_BENCH_MEMORY_FILE;
if (file !== undefined && file !== "") {
  const MiB = 1024 * 1024;
  const atStart = process.memoryUsage();
  let peak = atStart;
  let spacesAtPeak = getHeapSpaceStatistics();
  let latest = atStart;
  let spacesLatest = spacesAtPeak;
  let terminating = false;
  // The components handle SIGTERM themselves; this listener only marks when shutdown began.
  process.once("SIGTERM", () => {
    terminating = true;
  });
  const timer = setInterval(() => {
    const now = process.memoryUsage();
    if (!terminating) {
      latest = now;
      spacesLatest = getHeapSpaceStatistics();
    }
    if (now.rss > peak.rss) {
      peak = now;
      spacesAtPeak = getHeapSpaceStatistics();
    }
  }, 100);
  timer.unref();
  const mib = (usage: NodeJS.MemoryUsage) =>
    Object.fromEntries(Object.entries(usage).map(([key, value]) => [`${key}MiB`, Math.round((value / MiB) * 10) / 10]));
  const spaces = (stats: ReturnType<typeof getHeapSpaceStatistics>) =>
    Object.fromEntries(stats.map((s) => [s.space_name, Math.round((s.space_used_size / MiB) * 10) / 10]));
  process.on("exit", () => {
    writeFileSync(
      file,
      JSON.stringify({
        atStart: mib(atStart),
        atPeak: mib(peak),
        heapSpacesAtPeakMiB: spaces(spacesAtPeak),
        latest: mib(latest),
        heapSpacesLatestMiB: spaces(spacesLatest),
        // What each space holds from the system (used or not): a heap grown for a burst keeps it.
        heapSpacesLatestCommittedMiB: Object.fromEntries(
          spacesLatest.map((s) => [s.space_name, Math.round((s.physical_space_size / MiB) * 10) / 10]),
        ),
      }),
    );
  });
}
