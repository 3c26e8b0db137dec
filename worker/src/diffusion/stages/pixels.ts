/**
 * The reference's last image steps, in float32 like numpy: `clip(x / 2 + 0.5, 0, 1)` from the VAE's
 * NCHW output to HWC, then 8-bit `round(x * 255)` with numpy's round half to even.
 */

function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** float32 `[3, H, W]` in -1..1 -> float32 HWC in 0..1 and 8-bit HWC. */
export function decoderOutputToPixels(
  chw: Float32Array,
  width: number,
  height: number,
  values: Float32Array,
  pixels: Uint8Array,
): void {
  const plane = width * height;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      const shifted = Math.fround((chw[c * plane + i] ?? 0) / 2 + 0.5);
      const clipped = shifted < 0 ? 0 : shifted > 1 ? 1 : shifted;
      values[i * 3 + c] = clipped;
      pixels[i * 3 + c] = roundHalfToEven(Math.fround(clipped * 255));
    }
  }
}

/** 8-bit HWC -> float32 `[3, H, W]` in -1..1, as the reference prepares an img2img input. */
export function pixelsToEncoderInput(pixels: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + i] = 2 * Math.fround((pixels[i * 3 + c] ?? 0) / 255) - 1;
    }
  }
  return out;
}
