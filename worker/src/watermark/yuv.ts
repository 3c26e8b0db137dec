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

/*
 * For 8-bit RGB, Y stays within 0..255 and U within 17..239, so neither needs OpenCV's saturation;
 * V (-29..285) does.
 */

export function lumaOf(r: number, g: number, b: number): number {
  return (4899 * r + 9617 * g + 1868 * b + HALF) >> Q;
}

export function blueChromaOf(b: number, luma: number): number {
  return ((b - luma) * 8061 + CHROMA_OFFSET) >> Q;
}

export function redChromaOf(r: number, luma: number): number {
  return clampByte(((r - luma) * 14369 + CHROMA_OFFSET) >> Q);
}

/** U of the RGB pixel at byte offset `at`: the decoder's hot path. */
export function blueChromaAt(rgb: Uint8Array, at: number): number {
  const b = rgb[at + 2] ?? 0;
  return blueChromaOf(b, lumaOf(rgb[at] ?? 0, rgb[at + 1] ?? 0, b));
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

/** Writes the RGB of (Y, U, V) at byte offset `offset` of `rgb`. */
export function writeRgbFromYuv(rgb: Uint8Array, offset: number, y: number, u: number, v: number): void {
  const du = u - 128;
  const dv = v - 128;
  rgb[offset] = clampByte(y + ((dv * 18678 + HALF) >> Q));
  rgb[offset + 1] = clampByte(y + ((du * -6472 + dv * -9519 + HALF) >> Q));
  rgb[offset + 2] = clampByte(y + ((du * 33292 + HALF) >> Q));
}

/** How OpenCV's YUV->RGB moves B when U moves from `u` by `delta` (Y and V kept). */
export function blueShift(u: number, delta: number): number {
  return (((u + delta - 128) * 33292 + HALF) >> Q) - (((u - 128) * 33292 + HALF) >> Q);
}

/** How OpenCV's YUV->RGB moves G when U moves from `u` by `delta` (Y and V kept). */
export function greenShift(u: number, v: number, delta: number): number {
  const fromV = (v - 128) * -9519 + HALF;
  return (((u + delta - 128) * -6472 + fromV) >> Q) - (((u - 128) * -6472 + fromV) >> Q);
}
