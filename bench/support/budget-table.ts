/**
 * The tunnel-budget benchmark's table (bench/support/report.ts): per snapshot one row per
 * process, per step the per-tunnel deltas and the API server's max-inflight gauges, then the
 * warm and cold connect latencies. Rendering only; every figure comes from the JSON result.
 */

import type { Figures, Snapshot } from "./budget-snapshot.ts";
import type { GoProcessSample, NodeProcessSample } from "./component-figures.ts";
import type { EchoCheck } from "./tunnel-probes.ts";

export type StepRow = { snapshot: Snapshot; perTunnel: Record<string, Record<string, number>>; opened: string; verified: EchoCheck };
export type LimitHit = { step: number; reached: number; failures: string[] };

export interface LatencyFigures {
  samples: number;
  warm: { p50Ms: number; p99Ms: number; maxMs: number };
  cold: { p50Ms: number; p99Ms: number; maxMs: number; dialP50Ms: number; dialP99Ms: number };
  coldOverWarm: { p50: number; p99: number };
}

export function tableRows(
  baseline: Snapshot,
  steps: readonly StepRow[],
  afterClose: Snapshot,
  latency: LatencyFigures,
  limitHit: LimitHit | null,
): [string, string][] {
  const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
  const go = (s: Figures<GoProcessSample>) =>
    `RSS ${f(s.rssMiB)} MiB (/metrics ${f(s.metricsRssMiB)}), heap in use ${f(s.heapInuseMiB)} MiB (live ${f(s.heapLiveMiB)}), stacks ${f(s.stacksMiB)} MiB, ` +
    `${f(s.goroutines, 0)} goroutines, ${f(s.openFds, 0)} fds, CPU ${f(s.cpuMillicores, 0)} m`;
  const node = (s: Figures<NodeProcessSample>) =>
    `RSS ${f(s.rssMiB)} MiB, heap ${f(s.heapUsedMiB)} MiB, external ${f(s.externalMiB)} MiB, ${f(s.openFds, 0)} fds, CPU ${f(s.cpuMillicores, 0)} m`;
  const goPer = (p: Record<string, number>) =>
    `RSS ${f(p.rssKiB!)} KiB (/metrics ${f(p.metricsRssKiB!)}), heap in use ${f(p.heapInuseKiB!)} KiB (live ${f(p.heapLiveKiB!)}), stacks ${f(p.stacksKiB!)} KiB, ` +
    `${f(p.goroutines!, 2)} goroutines, ${f(p.openFds!, 2)} fds, CPU ${f(p.cpuMillicores!, 3)} m`;
  const nodePer = (p: Record<string, number>) =>
    `RSS ${f(p.rssKiB!)} KiB, heap ${f(p.heapUsedKiB!)} KiB, external ${f(p.externalKiB!)} KiB, ${f(p.openFds!, 2)} fds, CPU ${f(p.cpuMillicores!, 3)} m`;
  const block = (label: string, s: Snapshot): [string, string][] => [
    [`${label}: API server`, `${go(s.apiserver)}; ${f(s.apiserver.portForwardRequests, 0)} port-forwards in flight`],
    [`${label}: KWOK`, go(s.kwok)],
    [`${label}: client (this process)`, node(s.client)],
  ];
  const rows: [string, string][] = [...block("0 tunnels (baseline)", baseline)];
  for (const { snapshot: s, perTunnel: p, opened, verified } of steps) {
    const label = `${s.tunnels} tunnels`;
    rows.push(
      [
        `${label}: opened / echo checked / not open when sampled / backend conns KWOK kept`,
        `${opened} / ${verified.ok} of ${verified.tried} / ${s.notOpen} / ${s.backendConnectionsClosed}`,
      ],
      ...block(label, s),
      [`${label}: per tunnel, API server`, goPer(p.apiserver!)],
      [`${label}: per tunnel, KWOK`, goPer(p.kwok!)],
      [`${label}: per tunnel, client`, nodePer(p.client!)],
      [
        `${label}: API server max-inflight gauges (readOnly / mutating)`,
        `${f(s.apiserver.inflightReadOnly, 0)} / ${f(s.apiserver.inflightMutating, 0)}`,
      ],
    );
  }
  rows.push(...block("after closing all (0 tunnels)", afterClose));
  rows.push(
    [`warm connect → first echoed byte, p50 / p99 (${latency.samples})`, `${f(latency.warm.p50Ms, 2)} / ${f(latency.warm.p99Ms, 2)} ms`],
    [
      `cold open tunnel + connect → first echoed byte, p50 / p99`,
      `${f(latency.cold.p50Ms, 2)} / ${f(latency.cold.p99Ms, 2)} ms (of which dial ${f(latency.cold.dialP50Ms, 2)} / ${f(latency.cold.dialP99Ms, 2)} ms)`,
    ],
    ["cold / warm, p50 / p99", `${f(latency.coldOverWarm.p50)}× / ${f(latency.coldOverWarm.p99)}×`],
    ["limit hit", limitHit === null ? "none" : `at ${limitHit.reached} of ${limitHit.step}: ${limitHit.failures[0]}`],
  );
  return rows;
}
