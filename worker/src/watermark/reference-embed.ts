/**
 * invisible-watermark's `dwtDct` embedder reproduced bit for bit (`WatermarkEncoder.encode(bgr,
 * 'dwtDct')`), quirks included: the detail bands go back swapped, which transposes every 2x2 cell
 * of U, and the float U is truncated into uint8. It is kept to prove compatibility and for
 * `sdbot watermark embed --reference`; `embedWatermark` is the embedder to use.
 */
import {
  assertImageSize,
  BLOCK,
  carrierPosition,
  coefficientIndex,
  layoutOf,
  MIN_PIXELS,
  STEP,
} from './dwt-dct.js';
import { haarForward, haarInverse } from './haar.js';
import { DEFAULT_WATERMARK_TEXT, payloadBits } from './payload.js';
import { rgbToYuv, writeRgbFromYuv } from './yuv.js';

/** The reference's quantisation: the step's lower quarter for a 0, upper quarter for a 1, sign kept. */
export function quantisedCoefficient(value: number, bit: number): number {
  const magnitude = (Math.floor(Math.abs(value) / STEP) + 0.25 + 0.5 * bit) * STEP;
  return value >= 0 ? magnitude : -magnitude;
}

/** Returns the watermarked copy of an RGB (HWC, uint8) image; null when it is too small. */
export function embedWatermarkReference(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: string = DEFAULT_WATERMARK_TEXT,
): Uint8Array | null {
  assertImageSize(rgb, width, height);
  const bits = payloadBits(text);
  if (width * height < MIN_PIXELS) return null;
  const layout = layoutOf(width, height);
  const { y, u, v } = rgbToYuv(rgb, width * height);
  const bands = haarForward(u, width, layout.regionRows, layout.regionCols);
  const { approximation } = bands;
  // The reference walks every whole block of cA, even when the region has a spare row of cells.
  const blockCols = Math.floor(approximation.cols / BLOCK);
  const blockRows = Math.floor(approximation.rows / BLOCK);
  for (let block = 0; block < blockRows * blockCols; block++) {
    const index = coefficientIndex(
      approximation,
      blockCols,
      block,
      carrierPosition(approximation, blockCols, block),
    );
    approximation.data[index] = quantisedCoefficient(
      approximation.data[index] ?? 0,
      bits[block % bits.length] ?? 0,
    );
  }
  const restored = haarInverse({ ...bands, horizontal: bands.vertical, vertical: bands.horizontal });
  for (let r = 0; r < layout.regionRows; r++) {
    for (let c = 0; c < layout.regionCols; c++) {
      // numpy's float -> uint8 cast truncates. U of an RGB pixel lies in [16, 239] and a pixel
      // moves by at most 13.5, so the value never leaves the byte range.
      u[r * width + c] = Math.trunc(restored[r * layout.regionCols + c] ?? 0);
    }
  }
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < width * height; p++) writeRgbFromYuv(out, p * 3, y[p] ?? 0, u[p] ?? 0, v[p] ?? 0);
  return out;
}
