/**
 * A passive tap on the real WebSocket dialer, passed to `openTunnel` through its `dial`
 * parameter: it dials with `dialWebSocket` unchanged and only listens, counting WebSocket pongs
 * (answered by the API server) and the SPDY PING frames that arrive from the pod side (decoded
 * with the engine's own decoder from a copy of the inbound byte stream, so SPDY PINGs are the
 * runtime's echoes of ours when they carry odd ids).
 *
 * Contract: the tap never writes, pauses or resumes a socket. Its 'message' listener is added
 * while the dialled socket is still paused, before the transport attaches, so it sees every
 * inbound byte from the start (the header-compression context depends on that).
 */
import type WebSocket from "ws";
import { HeaderInflater } from "../../src/tunnel/header-compression.ts";
import { SpdyDecoder } from "../../src/tunnel/spdy-decoder.ts";
import { TUNNEL_SUBPROTOCOL } from "../../src/tunnel/tunnel.ts";
import { type DialOptions, dialWebSocket } from "../../src/tunnel/websocket-dialer.ts";

export interface WebSocketTap {
  readonly dial: (options: DialOptions) => Promise<WebSocket>;
  /** WebSocket pong frames received, over every dialled socket. */
  readonly webSocketPongs: () => number;
  /** Ids of the SPDY PING frames received on tunnel sockets, in arrival order. */
  readonly spdyPingIds: () => readonly number[];
  readonly sockets: () => number;
}

export function webSocketTap(): WebSocketTap {
  let pongs = 0;
  let sockets = 0;
  const pingIds: number[] = [];
  const dial = async (options: DialOptions): Promise<WebSocket> => {
    const socket = await dialWebSocket(options);
    sockets++;
    socket.on("pong", () => {
      pongs++;
    });
    if (options.subprotocol === TUNNEL_SUBPROTOCOL) {
      const decoder = new SpdyDecoder(new HeaderInflater());
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return;
        for (const frame of decoder.write(Buffer.from(data))) {
          if (frame.kind === "ping") pingIds.push(frame.id);
        }
      });
    }
    return socket;
  };
  return { dial, webSocketPongs: () => pongs, spdyPingIds: () => pingIds, sockets: () => sockets };
}
