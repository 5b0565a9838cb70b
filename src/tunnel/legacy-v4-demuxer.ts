/**
 * Pure codec for the legacy `v4.channel.k8s.io` port-forward protocol (one WebSocket per
 * forwarded connection). Contract (portforward-protocol.md §2; runtime `websocket.go`):
 *  - Every binary message starts with a channel byte. For the i-th listed port, channel 2i is
 *    data (both ways) and 2i+1 is error (server → client only).
 *  - Right after the upgrade the server sends the port as a little-endian uint16 as the first
 *    payload of EACH channel; we strip exactly those 2 bytes once per channel, even when they
 *    arrive split across messages, and check they match the requested port.
 *  - Error-channel payload is plain UTF-8 text (`error forwarding port …`).
 *  - Clients never send a prefix: outbound data is `[dataChannel, payload…]`.
 *  - Empty messages are ignored; an unknown channel or a wrong port prefix is PF_ERR_CHANNEL_PROTOCOL.
 */

import { TunnelError, TunnelErrorCode } from "./tunnel-error.ts";

export type V4Event =
  | { readonly kind: "data"; readonly portIndex: number; readonly data: Buffer }
  | { readonly kind: "error"; readonly portIndex: number; readonly text: string };

export const V4_CHANNEL_PROTOCOL = "v4.channel.k8s.io";

interface ChannelState {
  /** Prefix bytes still to strip (2, 1 or 0). */
  prefixRemaining: number;
  prefixLow: number;
}

export class V4ChannelDemuxer {
  readonly #ports: readonly number[];
  readonly #channels: ChannelState[];

  constructor(ports: readonly number[]) {
    this.#ports = ports;
    this.#channels = Array.from({ length: ports.length * 2 }, () => ({ prefixRemaining: 2, prefixLow: 0 }));
  }

  /** Decodes one WebSocket message. */
  handleMessage(message: Buffer): V4Event[] {
    if (message.length === 0) return [];
    const channel = message[0]!;
    const state = this.#channels[channel];
    if (state === undefined) {
      throw new TunnelError(TunnelErrorCode.ChannelProtocol, `v4 message on unknown channel ${channel}`);
    }
    let payload = message.subarray(1);
    const portIndex = channel >> 1;
    while (state.prefixRemaining > 0 && payload.length > 0) {
      if (state.prefixRemaining === 2) {
        state.prefixLow = payload[0]!;
      } else {
        const port = state.prefixLow | (payload[0]! << 8);
        const expected = this.#ports[portIndex]!;
        if (port !== expected) {
          throw new TunnelError(TunnelErrorCode.ChannelProtocol, `v4 channel ${channel} announced port ${port}, expected ${expected}`);
        }
      }
      state.prefixRemaining--;
      payload = payload.subarray(1);
    }
    if (payload.length === 0) return [];
    if (channel % 2 === 0) return [{ kind: "data", portIndex, data: payload }];
    return [{ kind: "error", portIndex, text: payload.toString("utf8") }];
  }
}

/** One outbound data message for the i-th port. */
export function encodeV4Data(portIndex: number, data: Buffer): Buffer {
  const message = Buffer.allocUnsafe(data.length + 1);
  message[0] = portIndex * 2;
  data.copy(message, 1);
  return message;
}
