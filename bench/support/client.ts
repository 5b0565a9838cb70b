/**
 * Client side of the benchmarks: downloads from a `source` backend and round trips to an `echo`
 * backend through a forwarder's local port, timing with the monotonic clock.
 */
import { connect } from "node:net";

/** Downloads `bytes` from the source behind `port`; resolves the seconds it took. */
export function download(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let received = 0;
    socket.on("connect", () => socket.write(`${bytes}\n`));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        socket.destroy();
        resolve(seconds);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (received < bytes) reject(new Error(`connection closed after ${received} of ${bytes} bytes`));
    });
  });
}

/** Opens a new connection, sends one byte, waits for its echo; resolves milliseconds. */
export function roundTrip(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    socket.on("connect", () => socket.write("x"));
    socket.once("data", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      socket.destroy();
      resolve(ms);
    });
    socket.on("error", reject);
  });
}

/** Peak resident set size of a process in MiB (Linux VmHWM). */
export async function peakRssMiB(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

const UPLOAD_CHUNK = Buffer.alloc(256 * 1024, "tunnelkeeper-upload-");

/**
 * Uploads `bytes` to the sink behind `port` (writes with backpressure) and waits for the sink's
 * one-byte answer that all of them arrived; resolves the seconds it took.
 */
export function upload(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let remaining = bytes;
    let done = false;
    const pump = () => {
      while (remaining > 0) {
        const piece = remaining >= UPLOAD_CHUNK.length ? UPLOAD_CHUNK : UPLOAD_CHUNK.subarray(0, remaining);
        remaining -= piece.length;
        if (!socket.write(piece)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.on("connect", () => {
      socket.write(`${bytes}\n`);
      pump();
    });
    socket.once("data", () => {
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      socket.destroy();
      resolve(seconds);
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!done) reject(new Error(`connection closed before the sink confirmed ${bytes} bytes (${bytes - remaining} written)`));
    });
  });
}
