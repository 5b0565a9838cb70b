/**
 * Preloaded into a process under benchmark (`NODE_OPTIONS=--import …/cpu-profile-probe.ts`, with
 * TK_BENCH_CPU_PROFILE naming the output): a CPU profile of exactly the window the benchmark
 * chooses, where `node --cpu-prof` would profile the whole life of the process (start-up, and a
 * gateway's withdrawal of its status entries at shutdown, which are not what is measured).
 * The first SIGUSR2 starts V8's sampling profiler (through node:inspector, in-process); the
 * second stops it and writes the .cpuprofile JSON (through a rename, so a reader that sees the
 * file sees all of it).
 */
import { renameSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const file = process.env.TK_BENCH_CPU_PROFILE;
if (file !== undefined && file !== "") {
  let session: Session | undefined;
  const fail = (what: string) => (error: Error | null) => {
    if (error !== null) process.stderr.write(`cpu-profile-probe: ${what} failed: ${error.message}\n`);
  };
  process.on("SIGUSR2", () => {
    if (session === undefined) {
      session = new Session();
      session.connect();
      session.post("Profiler.enable", fail("Profiler.enable"));
      session.post("Profiler.setSamplingInterval", { interval: 1000 }, fail("Profiler.setSamplingInterval"));
      session.post("Profiler.start", fail("Profiler.start"));
      return;
    }
    const running = session;
    running.post("Profiler.stop", (error, result) => {
      if (error !== null) return fail("Profiler.stop")(error);
      writeFileSync(`${file}.tmp`, JSON.stringify(result.profile));
      renameSync(`${file}.tmp`, file);
      running.disconnect();
    });
  });
}
