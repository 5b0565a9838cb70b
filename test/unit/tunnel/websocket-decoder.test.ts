import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TunnelError } from "../../../src/tunnel/tunnel-error.ts";
import { WebSocketDecoder, type WebSocketEvent } from "../../../src/tunnel/websocket-decoder.ts";
import { Opcode } from "../../../src/tunnel/websocket-frame.ts";

/** A server frame (unmasked) as the wire carries it; `first` overrides the first byte. */
function serverFrame(opcode: number, payload: Buffer, options: { fin?: boolean; first?: number; masked?: boolean } = {}): Buffer {
  const fin = options.fin ?? true;
  const first = options.first ?? (fin ? 0x80 : 0) | opcode;
  const mask = options.masked === true ? 0x80 : 0;
  let header: Buffer;
  if (payload.length < 126) header = Buffer.from([first, mask | payload.length]);
  else if (payload.length < 0x10000) {
    header = Buffer.from([first, mask | 126, 0, 0]);
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = mask | 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([header, options.masked === true ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

function closeFrame(code: number | null, reason = ""): Buffer {
  if (code === null) return serverFrame(Opcode.Close, Buffer.alloc(0));
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return serverFrame(Opcode.Close, payload);
}

/** Feeds `wire` in the given chunk sizes (the rest in one chunk) and collects every event. */
function decode(wire: Buffer, sizes: readonly number[] = []): WebSocketEvent[] {
  const decoder = new WebSocketDecoder();
  const events: WebSocketEvent[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= wire.length) break;
    events.push(...decoder.write(wire.subarray(offset, offset + size)));
    offset += size;
  }
  if (offset < wire.length) events.push(...decoder.write(wire.subarray(offset)));
  return events;
}

/** The messages the data events make up, joined. */
function messages(events: readonly WebSocketEvent[]): Buffer[] {
  const out: Buffer[] = [];
  let pieces: Buffer[] = [];
  for (const event of events) {
    if (event.kind !== "data") continue;
    pieces.push(event.data);
    if (event.final) {
      out.push(Buffer.concat(pieces));
      pieces = [];
    }
  }
  return out;
}

function rejectsWith(wire: Buffer, pattern: RegExp): void {
  assert.throws(
    () => decode(wire),
    (error: unknown) => error instanceof TunnelError && error.code === "PF_ERR_WS_PROTOCOL" && pattern.test(error.message),
  );
}

describe("WebSocketDecoder (server → client frames)", () => {
  it("decodes the three length encodings, byte for byte", () => {
    const payloads = [Buffer.alloc(0), randomBytes(125), randomBytes(126), randomBytes(65_535), randomBytes(65_536), randomBytes(300_000)];
    const wire = Buffer.concat(payloads.map((p) => serverFrame(Opcode.Binary, p)));
    assert.deepEqual(
      messages(decode(wire)).map((m) => m.toString("hex")),
      payloads.map((p) => p.toString("hex")),
    );
  });

  it("streams payload pieces as views of the chunks, the last piece final", () => {
    const payload = randomBytes(40_000);
    const wire = serverFrame(Opcode.Binary, payload);
    const events = decode(wire, [16_384, 16_384]);
    const pieces = events.filter((e) => e.kind === "data");
    assert.equal(pieces.length, 3);
    assert.deepEqual(
      pieces.map((p) => p.final),
      [false, false, true],
    );
    assert.deepEqual(Buffer.concat(pieces.map((p) => p.data)), payload);
    // A view of the chunk, not a copy: same memory as the wire buffer.
    const first = pieces[0]!.data;
    assert.equal(first.buffer, wire.buffer);
  });

  it("joins fragmented messages and passes control frames between their fragments", () => {
    const wire = Buffer.concat([
      serverFrame(Opcode.Binary, Buffer.from("ab"), { fin: false }),
      serverFrame(Opcode.Ping, Buffer.from("p1")),
      serverFrame(Opcode.Continuation, Buffer.from("cd"), { fin: false }),
      serverFrame(Opcode.Pong, Buffer.alloc(0)),
      serverFrame(Opcode.Continuation, Buffer.from("ef")),
      serverFrame(Opcode.Binary, Buffer.from("g")),
    ]);
    const events = decode(wire);
    assert.deepEqual(
      messages(events).map((m) => m.toString()),
      ["abcdef", "g"],
    );
    const control = events.filter((e) => e.kind === "ping" || e.kind === "pong");
    assert.deepEqual(
      control.map((e) => [e.kind, (e as { payload: Buffer }).payload.toString()]),
      [
        ["ping", "p1"],
        ["pong", ""],
      ],
    );
  });

  it("decodes close frames: code and reason, or no code", () => {
    assert.deepEqual(decode(closeFrame(1000, "bye")), [{ kind: "close", code: 1000, reason: "bye" }]);
    assert.deepEqual(decode(closeFrame(4001, "über")), [{ kind: "close", code: 4001, reason: "über" }]);
    assert.deepEqual(decode(closeFrame(null)), [{ kind: "close", code: null, reason: "" }]);
  });

  it("rejects what RFC 6455 forbids a server to send, with a reason", () => {
    rejectsWith(serverFrame(Opcode.Binary, Buffer.from("x"), { masked: true }), /masked/);
    rejectsWith(serverFrame(Opcode.Binary, Buffer.from("x"), { first: 0x80 | 0x40 | Opcode.Binary }), /reserved bits/);
    rejectsWith(serverFrame(Opcode.Text, Buffer.from("x")), /text message/);
    rejectsWith(serverFrame(0x3, Buffer.from("x")), /unknown opcode 0x3/);
    rejectsWith(serverFrame(0xb, Buffer.alloc(0)), /unknown opcode 0xb/);
    rejectsWith(serverFrame(Opcode.Continuation, Buffer.from("x")), /no message open/);
    rejectsWith(
      Buffer.concat([serverFrame(Opcode.Binary, Buffer.from("a"), { fin: false }), serverFrame(Opcode.Binary, Buffer.from("b"))]),
      /before the last one ended/,
    );
    rejectsWith(serverFrame(Opcode.Ping, Buffer.from("x"), { fin: false }), /fragmented control frame/);
    rejectsWith(serverFrame(Opcode.Ping, Buffer.alloc(126)), /control frame of 126 bytes/);
    rejectsWith(serverFrame(Opcode.Close, Buffer.from([3])), /1-byte payload/);
    rejectsWith(closeFrame(1005), /invalid close code 1005/);
    rejectsWith(closeFrame(2999), /invalid close code 2999/);
    rejectsWith(serverFrame(Opcode.Close, Buffer.from([0x03, 0xe8, 0xff, 0xfe])), /not UTF-8/);
    const huge = Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    rejectsWith(huge, /above 2\^53/);
  });

  it("stays failed after an error", () => {
    const decoder = new WebSocketDecoder();
    assert.throws(() => decoder.write(serverFrame(Opcode.Text, Buffer.from("x"))));
    assert.throws(() => decoder.write(serverFrame(Opcode.Binary, Buffer.from("fine"))), /text message/);
  });

  it("applies maxFrameLength", () => {
    const decoder = new WebSocketDecoder({ maxFrameLength: 10 });
    assert.throws(() => decoder.write(serverFrame(Opcode.Binary, Buffer.alloc(11))), /at most 10/);
  });

  it("property: any chunking of any frame sequence yields the same messages and control frames", () => {
    const message = fc.record({
      fragments: fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
      pingBetween: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 200 }), (spec, sizes) => {
        const frames: Buffer[] = [];
        for (const { fragments, pingBetween } of spec) {
          fragments.forEach((fragment, index) => {
            const opcode = index === 0 ? Opcode.Binary : Opcode.Continuation;
            frames.push(serverFrame(opcode, Buffer.from(fragment), { fin: index === fragments.length - 1 }));
            if (pingBetween) frames.push(serverFrame(Opcode.Ping, Buffer.from([index])));
          });
        }
        const events = decode(Buffer.concat(frames), sizes);
        assert.deepEqual(
          messages(events).map((m) => m.toString("hex")),
          spec.map(({ fragments }) => Buffer.concat(fragments.map((f) => Buffer.from(f))).toString("hex")),
        );
        const pings = spec.reduce((n, { fragments, pingBetween }) => n + (pingBetween ? fragments.length : 0), 0);
        assert.equal(events.filter((e) => e.kind === "ping").length, pings);
      }),
    );
  });
});
