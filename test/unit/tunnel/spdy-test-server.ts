/**
 * A small SPDY server peer for session tests, built only from our codec. It behaves like the
 * runtime's port-forward handler on moby/spdystream: replies to every SYN_STREAM with an empty
 * SYN_REPLY, pairs streams by requestid, echoes client PINGs, and by default echoes data on the
 * data stream and FINs both streams (error first) once the client half-closes.
 */

import type { ByteTransport, TransportSink } from "../../../src/tunnel/byte-transport.ts";
import { HeaderDeflater, HeaderInflater } from "../../../src/tunnel/header-compression.ts";
import { SpdyDecoder } from "../../../src/tunnel/spdy-decoder.ts";
import { encodeFrame } from "../../../src/tunnel/spdy-encoder.ts";
import { FLAG_FIN, RstStatus, type SpdyFrame } from "../../../src/tunnel/spdy-frame.ts";

export interface ServerPair {
  readonly requestId: string;
  readonly port: number;
  errorStreamId?: number;
  dataStreamId?: number;
  readonly received: Buffer[];
  clientFin: boolean;
}

export interface ServerBehaviour {
  /** Called when both streams of a pair exist. */
  onPair?(pair: ServerPair, server: TestSpdyServer): void;
  /** Called for each DATA on a data stream; default: echo, and FIN both streams on client FIN. */
  onData?(pair: ServerPair, data: Buffer, fin: boolean, server: TestSpdyServer): void;
}

export class TestSpdyServer implements TransportSink {
  readonly frames: SpdyFrame[] = [];
  readonly pairs = new Map<string, ServerPair>();
  answerPings = true;
  closedWith: Error | null | undefined = undefined;
  readonly #transport: ByteTransport;
  readonly #decoder = new SpdyDecoder(new HeaderInflater());
  readonly #deflater = new HeaderDeflater();
  readonly #behaviour: ServerBehaviour;
  readonly #streamToPair = new Map<number, ServerPair>();

  constructor(transport: ByteTransport, behaviour: ServerBehaviour = {}) {
    this.#transport = transport;
    this.#behaviour = behaviour;
    transport.attach(this);
  }

  send(frame: SpdyFrame): boolean {
    return this.#transport.write(Buffer.concat(encodeFrame(frame, this.#deflater)));
  }

  sendData(streamId: number, data: Buffer, fin = false): boolean {
    return this.send({ kind: "data", streamId, flags: fin ? FLAG_FIN : 0, data });
  }

  /** What the ≥1.32 runtime does on a forwarding error: text, then RST on both streams. */
  failPair(pair: ServerPair, text: string): void {
    this.sendData(pair.errorStreamId!, Buffer.from(text));
    this.send({ kind: "rstStream", streamId: pair.dataStreamId!, status: RstStatus.Cancel });
    this.send({ kind: "rstStream", streamId: pair.errorStreamId!, status: RstStatus.Cancel });
  }

  /** Normal end: FIN on the error stream, then on the data stream (runtime defer order). */
  finishPair(pair: ServerPair): void {
    this.sendData(pair.errorStreamId!, Buffer.alloc(0), true);
    this.sendData(pair.dataStreamId!, Buffer.alloc(0), true);
  }

  onData(bytes: Buffer): void {
    for (const frame of this.#decoder.write(bytes)) {
      this.frames.push(frame);
      this.#handle(frame);
    }
  }

  onDrain(): void {}

  onClose(error: Error | null): void {
    this.closedWith = error;
  }

  #handle(frame: SpdyFrame): void {
    switch (frame.kind) {
      case "synStream": {
        this.send({ kind: "synReply", streamId: frame.streamId, flags: 0, headers: new Map() });
        const requestId = frame.headers.get("requestid")!;
        let pair = this.pairs.get(requestId);
        if (pair === undefined) {
          pair = { requestId, port: Number(frame.headers.get("port")), received: [], clientFin: false };
          this.pairs.set(requestId, pair);
        }
        if (frame.headers.get("streamtype") === "error") pair.errorStreamId = frame.streamId;
        else pair.dataStreamId = frame.streamId;
        this.#streamToPair.set(frame.streamId, pair);
        if (pair.errorStreamId !== undefined && pair.dataStreamId !== undefined) this.#behaviour.onPair?.(pair, this);
        return;
      }
      case "data": {
        const pair = this.#streamToPair.get(frame.streamId);
        if (pair === undefined || frame.streamId !== pair.dataStreamId) return;
        const fin = (frame.flags & FLAG_FIN) !== 0;
        pair.received.push(frame.data);
        if (fin) pair.clientFin = true;
        if (this.#behaviour.onData !== undefined) {
          this.#behaviour.onData(pair, frame.data, fin, this);
          return;
        }
        if (frame.data.length > 0) this.sendData(frame.streamId, frame.data);
        if (fin) this.finishPair(pair);
        return;
      }
      case "ping":
        if (frame.id % 2 === 1 && this.answerPings) this.send(frame);
        return;
      default:
    }
  }
}
