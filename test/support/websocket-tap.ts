/**
 * A passive tap on the real WebSocket dialer, passed to `openTunnel` through its `dial`
 * parameter: it dials with `dialWebSocket` unchanged and only listens, counting WebSocket pongs
 * (answered by the API server) and the SPDY PING frames that arrive from the pod side. It decodes
 * its own copy of the inbound byte stream with the engine's decoders (WebSocket frames, then
 * SPDY), so SPDY PINGs are the runtime's echoes of ours when they carry odd ids.
 *
 * Contract: the tap never writes, pauses or resumes a socket. Its 'data' listener is added
 * while the dialled socket is still paused, before the transport attaches, and it decodes the
 * upgrade's head bytes first, so it sees every inbound byte from the start (the
 * header-compression context depends on that).
 */
import { HeaderInflater } from "../../src/tunnel/header-compression.ts";
import { SpdyDecoder } from "../../src/tunnel/spdy-decoder.ts";
import { TUNNEL_SUBPROTOCOL } from "../../src/tunnel/tunnel.ts";
import { WebSocketDecoder } from "../../src/tunnel/websocket-decoder.ts";
import { type DialedWebSocket, type DialOptions, dialWebSocket } from "../../src/tunnel/websocket-dialer.ts";

export interface WebSocketTap {
  readonly dial: (options: DialOptions) => Promise<DialedWebSocket>;
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
  const dial = async (options: DialOptions): Promise<DialedWebSocket> => {
    const dialed = await dialWebSocket(options);
    sockets++;
    const frames = new WebSocketDecoder();
    const spdy = options.subprotocol === TUNNEL_SUBPROTOCOL ? new SpdyDecoder(new HeaderInflater()) : null;
    const observe = (chunk: Buffer): void => {
      for (const event of frames.write(Buffer.from(chunk))) {
        if (event.kind === "pong") pongs++;
        if (event.kind !== "data" || spdy === null) continue;
        for (const frame of spdy.write(event.data)) {
          if (frame.kind === "ping") pingIds.push(frame.id);
        }
      }
    };
    observe(dialed.headBytes);
    dialed.socket.on("data", observe);
    return dialed;
  };
  return { dial, webSocketPongs: () => pongs, spdyPingIds: () => pingIds, sockets: () => sockets };
}
