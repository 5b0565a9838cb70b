/**
 * Tunnels opened from the benchmark process exactly as the gateway opens them, and the probes
 * run through them: bounded-concurrency opening, an echo check of a sample, and the latency of
 * a new connection on an open tunnel (warm) or on a tunnel opened for it (cold).
 *
 * Contract:
 *  - `gatewayTunnelSettings()` are the settings `src/targets/tunnel-settings.ts` gives a
 *    PortForward that sets neither spec.protocol nor spec.keepalive (Auto, 10 s keepalive), and
 *    `dialerFor` passes them to `openTunnel` the way `src/gateway/gateway.ts` does.
 *  - `openTunnels` spreads tunnel number i over `pods[i % pods.length]` (i counts from `firstIndex`,
 *    so successive calls continue the round robin) and stops dialling after the first failure:
 *    the caller gets what opened plus the failures, and decides what a failure means.
 *  - A connection is checked by writing bytes and reading the same bytes back (the backend is
 *    an echo server); it is then destroyed (RST_STREAM both streams): KWOK never carries a
 *    half-close, so waiting for the pod side to end would wait forever.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import { API_VERSION, KIND } from "../../src/api/identity.ts";
import { parsePortForward } from "../../src/api/portforward.ts";
import { type TunnelSettings, tunnelSettingsFor } from "../../src/targets/tunnel-settings.ts";
import { openTunnel, type Tunnel } from "../../src/tunnel/index.ts";
import { echoOnce } from "../../test/support/tunnel-traffic.ts";

const ECHO_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

export type TunnelDialer = (pod: string) => Promise<Tunnel>;

/** The settings of a PortForward with every tunnel field left at its default. */
export function gatewayTunnelSettings(): TunnelSettings {
  const parsed = parsePortForward({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: "tunnel-budget", namespace: "default" },
    spec: { target: { pod: "any" }, ports: [{ port: 80, targetPort: 80 }] },
  });
  if (!parsed.ok) throw new Error(`the default PortForward does not parse: ${parsed.error.message}`);
  return tunnelSettingsFor(parsed.value);
}

export function dialerFor(kubeConfig: KubeConfig, namespace: string, settings: TunnelSettings): TunnelDialer {
  const { protocol, keepaliveIntervalMs } = settings;
  return (pod) => openTunnel({ kubeConfig, namespace, pod, protocol, keepaliveIntervalMs });
}

export interface OpenedTunnels {
  readonly tunnels: Tunnel[];
  /** "pod: message" of each failed dial (dialling stops after the first; lanes in flight finish). */
  readonly failures: string[];
  readonly seconds: number;
  /** Time of each successful dial, ascending, in ms. */
  readonly dialMs: number[];
}

export async function openTunnels(
  dial: TunnelDialer,
  pods: readonly string[],
  count: number,
  concurrency: number,
  firstIndex: number,
): Promise<OpenedTunnels> {
  const tunnels: Tunnel[] = [];
  const failures: string[] = [];
  const dialMs: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count && failures.length === 0) {
      const pod = pods[(firstIndex + next++) % pods.length]!;
      const t0 = performance.now();
      try {
        tunnels.push(await dial(pod));
        dialMs.push(performance.now() - t0);
      } catch (error) {
        failures.push(`${pod}: ${describe(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  dialMs.sort((a, b) => a - b);
  return { tunnels, failures, seconds: (performance.now() - started) / 1000, dialMs };
}

/** Opens a connection to `port`, echoes `payload` through it, checks the bytes, destroys it. */
async function echoThrough(tunnel: Tunnel, port: number, payload: Buffer): Promise<void> {
  const connection: Duplex = tunnel.connect(port);
  try {
    const echoed = await echoOnce(connection, payload, ECHO_TIMEOUT_MS);
    if (!echoed.equals(payload)) throw new Error(`echoed ${echoed.length} bytes differ from the ${payload.length} sent`);
  } finally {
    connection.destroy();
  }
}

export interface EchoCheck {
  readonly tried: number;
  readonly ok: number;
  readonly failures: string[];
}

/** Echoes 64 random bytes through `sample` tunnels spread evenly over `tunnels`, one at a time. */
export async function verifyEcho(tunnels: readonly Tunnel[], sample: number, port: number): Promise<EchoCheck> {
  const tried = Math.min(sample, tunnels.length);
  const failures: string[] = [];
  for (let k = 0; k < tried; k++) {
    const tunnel = tunnels[Math.floor((k * tunnels.length) / tried)]!;
    try {
      await echoThrough(tunnel, port, randomBytes(64));
    } catch (error) {
      failures.push(describe(error));
    }
  }
  return { tried, ok: tried - failures.length, failures };
}

/** Warm: a new connection (stream pair) on the open `tunnel` to its first echoed byte, in ms. */
export async function warmConnectMs(tunnel: Tunnel, port: number): Promise<number> {
  const started = performance.now();
  await echoThrough(tunnel, port, randomBytes(1));
  return performance.now() - started;
}

export interface ColdConnect {
  /** Until `openTunnel` resolved (WebSocket upgrade answered 101, SPDY session started). */
  readonly dialMs: number;
  /** Until the first connection's first byte came back: what a client waits for. */
  readonly firstByteMs: number;
}

/** Cold: a tunnel opened for one connection, to that connection's first echoed byte; closed after. */
export async function coldConnect(dial: TunnelDialer, pod: string, port: number): Promise<ColdConnect> {
  const started = performance.now();
  const tunnel = await dial(pod);
  try {
    const dialMs = performance.now() - started;
    await echoThrough(tunnel, port, randomBytes(1));
    return { dialMs, firstByteMs: performance.now() - started };
  } finally {
    await closeTunnels([tunnel]);
  }
}

/** Closes every tunnel and waits (at most 10 s) until each has reported closed. */
export async function closeTunnels(tunnels: readonly Tunnel[]): Promise<void> {
  for (const tunnel of tunnels) tunnel.close();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
  });
  await Promise.race([Promise.all(tunnels.map((t) => t.closed)), timeout]);
  clearTimeout(timer);
}

function describe(error: unknown): string {
  if (error instanceof Error) return "code" in error ? `${String(error.code)}: ${error.message}` : error.message;
  return String(error);
}
