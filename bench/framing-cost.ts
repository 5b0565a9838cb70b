/**
 * `npm run bench -- framing-cost [--bytes N] [--rounds N]`
 *
 * What our framing costs a download in JavaScript alone, without sockets or TLS: the bytes the
 * API server sends a forwarder (16 KiB WebSocket messages carrying the kubelet's 32 KiB SPDY DATA
 * frames, cut into 16 KiB TLS-record-sized chunks that do not line up with either) go through
 * the forwarder's own WebSocketDecoder, SpdySession and PortForwardConnection to a 'data'
 * listener, one chunk per microtask checkpoint as Node delivers TLS records, each first copied
 * into a fresh buffer as Node's TLS layer decrypts every record into a new one (a replay of
 * cold memory would charge the framing for cache misses the forwarder does not have).
 * Subtracting the same loop with no decoding leaves the framing's CPU per GiB: the share of the tunnel
 * benchmark's download figure that is ours to cut, next to relay-floor's (a plain TLS relay).
 * In-process and single-threaded, so it moves less with the machine's load than the socket
 * figures; the subtraction's own noise is about ±0.04 s/GiB.
 *
 * The session runs over an in-memory ByteTransport that accepts every write (the session writes
 * only its SYN_STREAMs here); no Kubernetes part is involved.
 */
import { parseArgs } from "node:util";
import type { ByteTransport } from "../src/tunnel/byte-transport.ts";
import { HeaderDeflater } from "../src/tunnel/header-compression.ts";
import { PortForwardConnection } from "../src/tunnel/port-forward-connection.ts";
import { encodeDataHeader, encodeFrame } from "../src/tunnel/spdy-encoder.ts";
import { SpdySession } from "../src/tunnel/spdy-session.ts";
import { WebSocketDecoder } from "../src/tunnel/websocket-decoder.ts";
import { median } from "./support/parallel.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** One block of wire bytes, replayed until --bytes have gone through. */
const BLOCK_BYTES = 64 * MiB;
const RECORD_BYTES = 16 * 1024;
const MESSAGE_BYTES = 16 * 1024;
const DATA_FRAME_BYTES = 32 * 1024;
/** The data stream of the first connection (the error stream is 1). */
const DATA_STREAM_ID = 3;

/** The chunks a forwarder reads for `payloadBytes` of download (see the header). */
function downloadChunks(payloadBytes: number): Buffer[] {
  const payload = Buffer.alloc(DATA_FRAME_BYTES, 0x5a);
  const frames: Buffer[] = [];
  for (let sent = 0; sent < payloadBytes; sent += payload.length) {
    frames.push(encodeDataHeader(DATA_STREAM_ID, 0, payload.length), payload);
  }
  const spdy = Buffer.concat(frames);
  const messages: Buffer[] = [];
  for (let offset = 0; offset < spdy.length; offset += MESSAGE_BYTES) {
    const part = spdy.subarray(offset, Math.min(offset + MESSAGE_BYTES, spdy.length));
    messages.push(Buffer.from([0x82, 126, part.length >> 8, part.length & 0xff]), part);
  }
  const wire = Buffer.concat(messages);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < wire.length; offset += RECORD_BYTES) {
    chunks.push(wire.subarray(offset, Math.min(offset + RECORD_BYTES, wire.length)));
  }
  return chunks;
}

const acceptingTransport: ByteTransport = {
  attach() {},
  write: () => true,
  pause() {},
  resume() {},
  close() {},
  destroy() {},
};

/** A connection whose streams have their SYN_REPLY, counting what reaches its 'data' listener. */
async function openConnection(): Promise<{ session: SpdySession; received: () => number }> {
  const session = new SpdySession(acceptingTransport, { defer: (callback) => setImmediate(callback) });
  session.start();
  const connection = new PortForwardConnection({ session, port: 8080, requestId: "0" });
  let received = 0;
  // Closing the session at the end fails the connection with TunnelClosed: expected here.
  connection.on("error", () => {});
  connection.on("data", (chunk: Buffer) => {
    received += chunk.length;
  });
  await new Promise((resolve) => setImmediate(resolve));
  const serverDeflater = new HeaderDeflater();
  for (const streamId of [1, DATA_STREAM_ID]) {
    for (const bytes of encodeFrame({ kind: "synReply", streamId, flags: 0, headers: new Map() }, serverDeflater)) {
      session.onData(bytes);
    }
  }
  return { session, received: () => received };
}

/** CPU seconds for `blocks` replays of `chunks`, decoded or (decode = false) only iterated. */
async function replay(chunks: readonly Buffer[], blocks: number, decode: boolean): Promise<{ seconds: number; received: number }> {
  const { session, received } = await openConnection();
  const decoder = new WebSocketDecoder();
  const before = process.cpuUsage();
  for (let block = 0; block < blocks; block++) {
    for (const chunk of chunks) {
      // As Node's TLS layer: each record is decrypted into a fresh buffer, so it is in the cache.
      const record = Buffer.allocUnsafeSlow(chunk.length);
      chunk.copy(record);
      if (decode) {
        for (const event of decoder.write(record)) {
          if (event.kind === "data" && event.data.length > 0) session.onData(event.data);
        }
      }
      // Node runs the microtask queue after each TLS record's callback; so does this await.
      await null;
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
  const used = process.cpuUsage(before);
  session.close();
  return { seconds: (used.user + used.system) / 1e6, received: received() };
}

export interface FramingCostFigures {
  readonly bytes: number;
  readonly chunksPerGiB: number;
  /** Median over rounds of (decoded − iterated) CPU seconds, per GiB. */
  readonly framingCpuSecondsPerGiB: number;
  readonly framingMicrosecondsPerChunk: number;
}

export async function run(argv: string[]): Promise<FramingCostFigures> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bytes: { type: "string", default: String(GiB) },
      rounds: { type: "string", default: "3" },
    },
  });
  const blocks = Math.max(1, Math.round(Number(values.bytes) / BLOCK_BYTES));
  const bytes = blocks * BLOCK_BYTES;
  const chunks = downloadChunks(BLOCK_BYTES);
  const costs: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const iterated = await replay(chunks, blocks, false);
    const decoded = await replay(chunks, blocks, true);
    if (decoded.received !== bytes) throw new Error(`framing-cost: ${decoded.received} bytes reached the consumer, not ${bytes}`);
    costs.push((decoded.seconds - iterated.seconds) / (bytes / GiB));
  }
  const framingCpuSecondsPerGiB = median(costs);
  const chunksPerGiB = Math.round((chunks.length * GiB) / BLOCK_BYTES);
  const figures = {
    bytes,
    chunksPerGiB,
    framingCpuSecondsPerGiB,
    framingMicrosecondsPerChunk: (framingCpuSecondsPerGiB * 1e6) / chunksPerGiB,
  };
  process.stdout.write(
    `download framing in JavaScript (WebSocket + SPDY decode, PortForwardConnection to 'data'): ` +
      `${framingCpuSecondsPerGiB.toFixed(3)} CPU s/GiB, ${figures.framingMicrosecondsPerChunk.toFixed(2)} µs per 16 KiB chunk ` +
      `(per round: ${costs.map((c) => c.toFixed(3)).join(", ")})\n`,
  );
  return figures;
}
