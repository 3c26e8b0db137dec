/**
 * The watermark payload: UTF-8 bytes of a text, most significant bit first, exactly as
 * invisible-watermark's `WatermarkEncoder.set_by_bytes` unpacks them.
 */
import { ValidationError } from '@sdbot/shared';

/** The text CompVis txt2img scripts embed in every image they save. */
export const DEFAULT_WATERMARK_TEXT = 'StableDiffusionV1';

/** Payload bits (0 or 1), one per array entry. */
export function payloadBits(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) {
    throw new ValidationError([{ field: 'text', message: 'the watermark text must not be empty' }]);
  }
  const bits = new Uint8Array(bytes.length * 8);
  bytes.forEach((byte, index) => {
    for (let bit = 0; bit < 8; bit++) bits[index * 8 + bit] = (byte >> (7 - bit)) & 1;
  });
  return bits;
}

export function bitString(bits: Uint8Array): string {
  return Array.from(bits, (bit) => (bit === 0 ? '0' : '1')).join('');
}

/** The text the bits spell as UTF-8, or null when they are not whole bytes of valid UTF-8. */
export function payloadText(bits: Uint8Array): string | null {
  if (bits.length === 0 || bits.length % 8 !== 0) return null;
  const bytes = new Uint8Array(bits.length / 8);
  bits.forEach((bit, index) => {
    bytes[index >> 3] = ((bytes[index >> 3] ?? 0) << 1) | bit;
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
