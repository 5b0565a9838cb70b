/** Test helper: bytes from a hex string with free spacing and `|` separators. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[\s|]/g, ""), "hex");
}

/**
 * Merges consecutive DATA frames of one stream into one (payloads concatenated, flags of the
 * last). The decoder streams DATA payloads piece by piece as bytes arrive, so tests compare
 * frame sequences in this joined form: the same bytes, in the same order, with the same FIN.
 */
export function joinData<F extends { kind: string }>(frames: readonly F[]): F[] {
  const out: F[] = [];
  for (const frame of frames) {
    const last = out[out.length - 1] as (F & { streamId?: number; data?: Buffer; flags?: number }) | undefined;
    const next = frame as F & { streamId?: number; data?: Buffer; flags?: number };
    if (frame.kind === "data" && last?.kind === "data" && last.streamId === next.streamId && ((last.flags ?? 0) & 0x01) === 0) {
      out[out.length - 1] = { ...last, flags: next.flags, data: Buffer.concat([last.data!, next.data!]) };
    } else {
      out.push(frame);
    }
  }
  return out;
}
