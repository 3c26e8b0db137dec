/**
 * OpenCV's 8-bit fixed-point (Q14) BGR<->YUV conversions, bit-exact: the watermark lives in U, and a
 * decoder recomputes U from the pixels, so both directions must round exactly like `cv2.cvtColor`.
 * Pixels here are RGB (HWC); OpenCV's BGR order only changes which byte is which.
 */

const Q = 14;
const HALF = 1 << (Q - 1);
const CHROMA_OFFSET = (128 << Q) + HALF;

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

export function lumaOf(r: number, g: number, b: number): number {
  return clampByte((4899 * r + 9617 * g + 1868 * b + HALF) >> Q);
}

export function blueChromaOf(b: number, luma: number): number {
  return clampByte(((b - luma) * 8061 + CHROMA_OFFSET) >> Q);
}

export function redChromaOf(r: number, luma: number): number {
  return clampByte(((r - luma) * 14369 + CHROMA_OFFSET) >> Q);
}

/** U of the RGB pixel at byte offset `offset`. */
export function blueChromaAt(rgb: Uint8Array, offset: number): number {
  const r = rgb[offset] ?? 0;
  const g = rgb[offset + 1] ?? 0;
  const b = rgb[offset + 2] ?? 0;
  return blueChromaOf(b, lumaOf(r, g, b));
}

export interface YuvPlanes {
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

export function rgbToYuv(rgb: Uint8Array, pixels: number): YuvPlanes {
  const y = new Uint8Array(pixels);
  const u = new Uint8Array(pixels);
  const v = new Uint8Array(pixels);
  for (let p = 0, o = 0; p < pixels; p++, o += 3) {
    const r = rgb[o] ?? 0;
    const g = rgb[o + 1] ?? 0;
    const b = rgb[o + 2] ?? 0;
    const luma = lumaOf(r, g, b);
    y[p] = luma;
    u[p] = blueChromaOf(b, luma);
    v[p] = redChromaOf(r, luma);
  }
  return { y, u, v };
}

/** RGB of (Y, U, V), packed as 0xRRGGBB so the per-pixel loops allocate nothing. */
export function packedRgbOfYuv(y: number, u: number, v: number): number {
  const du = u - 128;
  const dv = v - 128;
  const r = clampByte(y + ((dv * 18678 + HALF) >> Q));
  const g = clampByte(y + ((du * -6472 + dv * -9519 + HALF) >> Q));
  const b = clampByte(y + ((du * 33292 + HALF) >> Q));
  return (r << 16) | (g << 8) | b;
}

/** Writes the RGB of (Y, U, V) at byte offset `offset` of `rgb`. */
export function writeRgbFromYuv(rgb: Uint8Array, offset: number, y: number, u: number, v: number): void {
  const packed = packedRgbOfYuv(y, u, v);
  rgb[offset] = packed >> 16;
  rgb[offset + 1] = (packed >> 8) & 0xff;
  rgb[offset + 2] = packed & 0xff;
}

/** U that a decoder reads back from the RGB pixel (Y, U, V) turns into, clamping included. */
export function blueChromaRoundTrip(y: number, u: number, v: number): number {
  const packed = packedRgbOfYuv(y, u, v);
  const r = packed >> 16;
  const g = (packed >> 8) & 0xff;
  const b = packed & 0xff;
  return blueChromaOf(b, lumaOf(r, g, b));
}
