/**
 * One snapshot of the tunnel-budget benchmark: kube-apiserver, KWOK and this process (the
 * client) sampled a few times after a settle period, each figure the median of its samples,
 * CPU as the rate between the first and the last sample; and per-tunnel deltas between two
 * snapshots. Before settling, the echo backend closes the connections KWOK kept from earlier
 * echo checks (see backends.ts `startClosableEcho`), so they are not counted as tunnels' cost.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Tunnel } from "../../src/tunnel/index.ts";
import { getApiServerText } from "./apiserver-metrics.ts";
import {
  cpuMillicores,
  type GoProcessSample,
  goProcessSample,
  medianSample,
  type NodeProcessSample,
  thisProcessSample,
} from "./component-figures.ts";
import { sampleSum } from "./prometheus-text.ts";

export type Figures<T> = Omit<T, "cpuSeconds"> & { cpuMillicores: number };
export type ApiServerFigures = Figures<GoProcessSample> & {
  /** apiserver_longrunning_requests{resource="pods",subresource="portforward"}: tunnels as it counts them. */
  portForwardRequests: number;
  /** apiserver_current_inflight_requests: what --max-requests-inflight / --max-mutating-requests-inflight limit. */
  inflightReadOnly: number;
  inflightMutating: number;
};

/** The three processes at one point (each figure the median of the samples). */
export interface Snapshot {
  /** Tunnels the benchmark holds open. */
  tunnels: number;
  /** Of those, how many were no longer open when sampled (closed while idle: keepalive timeout, network). */
  notOpen: number;
  /** Backend connections of earlier echo checks that KWOK still held, closed by the backend before settling. */
  backendConnectionsClosed: number;
  apiserver: ApiServerFigures;
  kwok: Figures<GoProcessSample>;
  client: Figures<NodeProcessSample>;
}

export interface SnapshotProbe {
  /** Seconds to wait first; how many samples, how many seconds apart (at least 2, for the CPU rate). */
  readonly sampling: { readonly settleSeconds: number; readonly samples: number; readonly sampleIntervalSeconds: number };
  readonly kubeConfig: KubeConfig;
  readonly apiServerPid: number;
  readonly kwokPid: number;
  readonly kwokMetricsUrl: string;
  readonly closeBackendConnections: () => number;
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 200)}`);
  return body;
}

/** Settles, samples the three processes `samples` times, keeps the medians and the CPU rates. */
export async function snapshot(probe: SnapshotProbe, tunnels: readonly Tunnel[]): Promise<Snapshot> {
  const options = probe.sampling;
  const backendConnectionsClosed = probe.closeBackendConnections();
  await sleep(options.settleSeconds * 1000);
  const apiserver: (GoProcessSample & Omit<ApiServerFigures, keyof Figures<GoProcessSample>>)[] = [];
  const kwok: GoProcessSample[] = [];
  const client: NodeProcessSample[] = [];
  const at: number[] = [];
  for (let k = 0; k < options.samples; k++) {
    if (k > 0) await sleep(options.sampleIntervalSeconds * 1000);
    const [apiText, kwokText] = await Promise.all([getApiServerText(probe.kubeConfig, "/metrics"), fetchText(probe.kwokMetricsUrl)]);
    at.push(performance.now());
    client.push(thisProcessSample());
    kwok.push(goProcessSample(probe.kwokPid, kwokText));
    apiserver.push({
      ...goProcessSample(probe.apiServerPid, apiText),
      portForwardRequests: sampleSum(apiText, "apiserver_longrunning_requests", { resource: "pods", subresource: "portforward" }) ?? 0,
      inflightReadOnly: sampleSum(apiText, "apiserver_current_inflight_requests", { request_kind: "readOnly" }) ?? Number.NaN,
      inflightMutating: sampleSum(apiText, "apiserver_current_inflight_requests", { request_kind: "mutating" }) ?? Number.NaN,
    });
  }
  const window = at.at(-1)! - at[0]!;
  const figures = <T extends { cpuSeconds: number }>(samples: readonly T[]): Figures<T> => {
    const { cpuSeconds: _, ...median } = medianSample(samples);
    return { ...median, cpuMillicores: cpuMillicores(samples[0]!, samples.at(-1)!, window) } as Figures<T>;
  };
  return {
    tunnels: tunnels.length,
    notOpen: tunnels.filter((t) => t.state.kind !== "open").length,
    backendConnectionsClosed,
    apiserver: figures(apiserver) as ApiServerFigures,
    kwok: figures(kwok),
    client: figures(client),
  };
}

/** (after − before) / tunnels for every figure; `…MiB` figures become `…KiB`. */
export function perTunnel(after: object, before: object, tunnels: number): Record<string, number> {
  const a = after as Record<string, number>;
  const b = before as Record<string, number>;
  return Object.fromEntries(
    Object.keys(a).map((key) => {
      const delta = (a[key]! - b[key]!) / tunnels;
      return key.endsWith("MiB") ? [`${key.slice(0, -3)}KiB`, round(delta * 1024, 3)] : [key, round(delta, 3)];
    }),
  );
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Rounds every number of a snapshot's components to `digits` decimals. */
export function rounded(s: Snapshot): Snapshot {
  const r = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "number" ? round(v, 2) : v])) as T;
  return { ...s, apiserver: r(s.apiserver), kwok: r(s.kwok), client: r(s.client) };
}
