/**
 * A CPU profile of kube-apiserver over a benchmark's window, and what its CPU went to by kind of
 * request. The API server serves Go's pprof at `/debug/pprof/profile?seconds=N` (with
 * `--profiling`, which only the benchmarks' control plane turns on: test/cluster/control-plane.ts)
 * and answers only after N seconds, so a window of unknown length is profiled as back-to-back
 * chunks of CHUNK_SECONDS, merged at the end with `go tool pprof -proto`. The gap between two
 * chunks is one request's round trip.
 *
 * Kinds are told by a frame on the sample's stack (KINDS, first match wins: a write's stack has
 * watch-cache frames too, so writes come first). CPU the Go runtime
 * spends collecting garbage in its own workers is a kind of its own; allocation and assists in a
 * handler count for that handler. Reading the profile needs `go` on PATH (the machine builds its
 * Kubernetes binaries with it).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConnection } from "../../src/kube/connection.ts";
import { openKubeRequest } from "../../src/kube/request.ts";

/** Short, so that stopping (which waits for the chunk under way) adds at most this to the window. */
const CHUNK_SECONDS = 2;

/** A kind of work, the frame that tells it, and the request counter keys ("VERB resource") it is per. */
interface Kind {
  readonly name: string;
  readonly frames: readonly string[];
  readonly perRequest?: (key: string) => boolean;
}

const KINDS: readonly Kind[] = [
  {
    name: "PortForward status writes",
    frames: ["customresource.(*StatusREST).Update"],
    perRequest: (key) => key.endsWith(" portforwards/status"),
  },
  {
    name: "other writes (Service, EndpointSlice applies)",
    frames: ["handlers.(*patcher).patchResource", "handlers.UpdateResource"],
    perRequest: (key) => /^(APPLY|PATCH|PUT) /.test(key) && !key.endsWith(" portforwards/status") && !key.endsWith(" leases"),
  },
  {
    name: "creates (PortForwards, Events, IPAddresses)",
    frames: ["createHandler"],
    perRequest: (key) => key.startsWith("POST "),
  },
  // Go keeps 64 frames of a stack, leaf first: an apply deep enough loses the frames above.
  { name: "server-side apply, stack cut before its request", frames: ["managedfields/internal.", "structured-merge-diff/"] },
  { name: "port-forward tunnels", frames: ["handlers.ConnectResource"], perRequest: (key) => key === "CONNECT pods/portforward" },
  // Before watches: a read served from the watch cache has cacher frames too.
  { name: "reads (get, list)", frames: ["handlers.GetResource", "handlers.ListResource", "handlers.getResourceHandler"] },
  {
    name: "watches (serving, watch cache, etcd watch)",
    frames: ["handlers.serveWatch", "handlers.handleWatch", "storage/cacher.", "etcd3.(*watchChan)"],
  },
  { name: "garbage collection (runtime workers)", frames: ["runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"] },
  {
    name: "other request handling (TLS, authentication, filters, /metrics)",
    frames: ["net/http.(*conn).serve", "filters.(*timeoutHandler)", "http2."],
  },
];
const OTHER = "other (runtime, timers, controllers inside the API server)";

export interface ApiServerProfile {
  readonly file: string;
  readonly cpuSeconds: number;
  /** Kind → CPU seconds and share of the profile, largest first. */
  readonly byKind: Record<string, { seconds: number; share: number }>;
}

/**
 * Starts profiling; `stop()` waits for the chunk under way (so the window ends up to
 * CHUNK_SECONDS late) and merges the chunks into `<dir>/kube-apiserver.pb.gz`.
 */
export function profileApiServer(connection: KubeConnection, dir: string): { stop(): Promise<ApiServerProfile> } {
  const chunks: string[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const response = await openKubeRequest(connection, {
        method: "GET",
        path: "/debug/pprof/profile",
        query: { seconds: CHUNK_SECONDS },
      });
      const body: Buffer[] = [];
      for await (const piece of response) body.push(piece as Buffer);
      if (response.statusCode !== 200) {
        throw new Error(`GET /debug/pprof/profile: ${response.statusCode} ${Buffer.concat(body).toString("utf8").slice(0, 200)}`);
      }
      const file = join(dir, `kube-apiserver-${chunks.length}.pb.gz`);
      writeFileSync(file, Buffer.concat(body));
      chunks.push(file);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      const file = join(dir, "kube-apiserver.pb.gz");
      writeFileSync(
        file,
        execFileSync("go", ["tool", "pprof", "-proto", ...chunks], { maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] }),
      );
      return readApiServerProfile(file);
    },
  };
}

/** A kube-apiserver CPU profile (pprof) by kind of request. */
function readApiServerProfile(file: string): ApiServerProfile {
  return { file, ...cpuByKind(traces(file)) };
}

/** The samples of a profile: CPU seconds and the stack's frames, leaf first (`go tool pprof -traces`). */
function traces(file: string): { seconds: number; frames: string[] }[] {
  const text = execFileSync("go", ["tool", "pprof", "-traces", file], {
    encoding: "utf8",
    maxBuffer: 1024 * 1024 * 1024,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const samples: { seconds: number; frames: string[] }[] = [];
  let current: { seconds: number; frames: string[] } | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("-----------+")) {
      current = undefined;
      continue;
    }
    // A sample starts with its value ("      10ms   runtime.memmove"); its callers follow, indented.
    const head = /^\s*([\d.]+)(ns|us|µs|ms|s)\s+(\S.*)$/.exec(line);
    if (head !== null && current === undefined) {
      const scale = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1 }[head[2] as "ns" | "us" | "µs" | "ms" | "s"];
      current = { seconds: Number(head[1]) * scale, frames: [head[3] as string] };
      samples.push(current);
    } else if (current !== undefined && line.trim() !== "") {
      current.frames.push(line.trim());
    }
  }
  return samples;
}

function cpuByKind(samples: readonly { seconds: number; frames: string[] }[]): Omit<ApiServerProfile, "file"> {
  const byKind = new Map<string, number>();
  let total = 0;
  for (const sample of samples) {
    total += sample.seconds;
    const kind = KINDS.find((k) => sample.frames.some((frame) => k.frames.some((f) => frame.includes(f))))?.name ?? OTHER;
    byKind.set(kind, (byKind.get(kind) ?? 0) + sample.seconds);
  }
  const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;
  return {
    cpuSeconds: round(total, 2),
    byKind: Object.fromEntries(
      [...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([kind, s]) => [kind, { seconds: round(s, 2), share: round(s / total, 3) }]),
    ),
  };
}

/**
 * CPU milliseconds per request of each kind that has a request counter: the kind's seconds over
 * the requests `counts` ("VERB resource" → n, the same window) has of it.
 */
export function cpuMsPerRequest(
  profile: ApiServerProfile,
  counts: Readonly<Record<string, number>>,
): Record<string, { requests: number; ms: number }> {
  const result: Record<string, { requests: number; ms: number }> = {};
  for (const kind of KINDS) {
    if (kind.perRequest === undefined) continue;
    const requests = Object.entries(counts)
      .filter(([key]) => kind.perRequest?.(key))
      .reduce((sum, [, n]) => sum + n, 0);
    const seconds = profile.byKind[kind.name]?.seconds ?? 0;
    if (requests > 0) result[kind.name] = { requests, ms: Math.round((seconds / requests) * 1e4) / 10 };
  }
  return result;
}
