/** Test helper: bytes from a hex string with free spacing and `|` separators. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[\s|]/g, ''), 'hex');
}
