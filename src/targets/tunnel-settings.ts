/**
 * The tunnel settings a PortForward asks for, in one place: the gateway and `tunnelkeeper forward`
 * both open tunnels with exactly these. Pure.
 *
 * `key` is a stable string of every field and of spec.cluster: a served PortForward whose key
 * changes must have its tunnels re-opened (an open tunnel cannot change protocol, keepalive period
 * or the cluster it goes to in place).
 */

import type { PortForward } from "../api/portforward.ts";
import type { TunnelProtocolSetting } from "../api/spec.ts";
import { tryParseDurationMs } from "../api/validation.ts";
import { DEFAULT_KEEPALIVE_INTERVAL_MS } from "../tunnel/index.ts";

export interface TunnelSettings {
  readonly protocol: TunnelProtocolSetting;
  /** SPDY PING / WebSocket ping period; 0 disables keepalive. */
  readonly keepaliveIntervalMs: number;
  /** Equal for equal settings; compare keys to decide whether tunnels must be re-opened. */
  readonly key: string;
}

/** `protocol` overrides spec.protocol (the CLI's `--protocol`). */
export function tunnelSettingsFor(pf: PortForward, protocol: TunnelProtocolSetting = pf.spec.protocol): TunnelSettings {
  const keepaliveIntervalMs = tryParseDurationMs(pf.spec.keepalive.interval) ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
  const cluster = pf.spec.cluster ?? null;
  return { protocol, keepaliveIntervalMs, key: JSON.stringify([protocol, keepaliveIntervalMs, cluster]) };
}
