/**
 * The geometry and bit rule of invisible-watermark's `dwtDct` method (class `EmbedMaxDct`, scales
 * [0, 36, 36], block 4). Despite the name no DCT is involved: bits live in the largest non-first
 * coefficient of each 4x4 block of the U channel's Haar approximation band.
 */
import { SdbotError } from '@sdbot/shared';
import { cellApproximation, type Band } from './haar.js';
import { bitString, DEFAULT_WATERMARK_TEXT, payloadBits, payloadText } from './payload.js';
import { blueChromaAt } from './yuv.js';

/** Quantisation step of the U channel (the reference's `scales[1]`). */
export const STEP = 36;
/** Side of a block of approximation coefficients. */
export const BLOCK = 4;
/** The reference refuses images with fewer pixels than this (`r*c < 256*256`). */
export const MIN_PIXELS = 256 * 256;

/** The watermarked region and its blocks for an image of this size. */
export interface Layout {
  /** Top-left region the transform covers: `rows//4*4` x `cols//4*4` pixels. */
  regionRows: number;
  regionCols: number;
  blockRows: number;
  blockCols: number;
  blocks: number;
}

export function layoutOf(width: number, height: number): Layout {
  const regionRows = Math.floor(height / 4) * 4;
  const regionCols = Math.floor(width / 4) * 4;
  const blockRows = Math.floor(regionRows / 2 / BLOCK);
  const blockCols = Math.floor(regionCols / 2 / BLOCK);
  return { regionRows, regionCols, blockRows, blockCols, blocks: blockRows * blockCols };
}

/**
 * cA of the U channel over the layout's region, straight from RGB: what the reference computes
 * with `cv2.cvtColor` then `pywt.dwt2`, without materialising the planes. Written into `data`
 * when given (rows * cols values).
 */
export function blueChromaBand(
  rgb: Uint8Array,
  width: number,
  layout: Layout,
  data: Float64Array = new Float64Array((layout.regionRows / 2) * (layout.regionCols / 2)),
): Band {
  const rows = layout.regionRows / 2;
  const cols = layout.regionCols / 2;
  const rowBytes = width * 3;
  for (let row = 0, index = 0; row < rows; row++) {
    for (let col = 0, at = 2 * row * rowBytes; col < cols; col++, index++, at += 6) {
      data[index] = cellBlueChroma(rgb, at, rowBytes);
    }
  }
  return { rows, cols, data };
}

/** cA of the 2x2 cell whose top-left pixel is at byte offset `at`, rows `rowBytes` apart. */
export function cellBlueChroma(rgb: Uint8Array, at: number, rowBytes: number): number {
  return cellApproximation(
    blueChromaAt(rgb, at),
    blueChromaAt(rgb, at + 3),
    blueChromaAt(rgb, at + rowBytes),
    blueChromaAt(rgb, at + rowBytes + 3),
  );
}

/** Offset in `band` of flat position `position` (0..15) of block `block` (row-major blocks). */
export function coefficientIndex(band: Band, blockCols: number, block: number, position: number): number {
  const row = Math.floor(block / blockCols) * BLOCK + (position >> 2);
  const col = (block % blockCols) * BLOCK + (position & 3);
  return row * band.cols + col;
}

/** Position (1..15) of the largest |value| in the block, first one on ties; position 0 never counts. */
export function carrierPosition(band: Band, blockCols: number, block: number): number {
  const base = coefficientIndex(band, blockCols, block, 0);
  let best = 1;
  let bestMagnitude = -1;
  for (let position = 1; position < BLOCK * BLOCK; position++) {
    const magnitude = Math.abs(band.data[base + (position >> 2) * band.cols + (position & 3)] ?? 0);
    if (magnitude > bestMagnitude) {
      bestMagnitude = magnitude;
      best = position;
    }
  }
  return best;
}

/**
 * `Math.abs(value) % STEP`, exactly, without the slow floating-point remainder: the subtraction is
 * exact (its operands are within a factor of two), and a quotient rounded up to the next whole
 * step is taken back.
 */
export function phaseOf(value: number): number {
  const magnitude = Math.abs(value);
  const phase = magnitude - Math.floor(magnitude / STEP) * STEP;
  return phase < 0 ? phase + STEP : phase;
}

/** The bit a coefficient reads as: the upper half of its quantisation step is a 1. */
export function bitOfCoefficient(value: number): number {
  return phaseOf(value) > STEP / 2 ? 1 : 0;
}

/** What every block of the region reads as (0 or 1), in block order: `carrierPosition`'s rule. */
export function readBlockBits(band: Band, layout: Layout): Uint8Array {
  const bits = new Uint8Array(layout.blocks);
  const { cols, data } = band;
  for (let blockRow = 0, block = 0; blockRow < layout.blockRows; blockRow++) {
    for (let blockCol = 0; blockCol < layout.blockCols; blockCol++, block++) {
      const base = blockRow * BLOCK * cols + blockCol * BLOCK;
      let carrier = base + 1;
      let carrierMagnitude = -1;
      for (let position = 1; position < BLOCK * BLOCK; position++) {
        const at = base + (position >> 2) * cols + (position & 3);
        const magnitude = Math.abs(data[at] ?? 0);
        if (magnitude > carrierMagnitude) {
          carrierMagnitude = magnitude;
          carrier = at;
        }
      }
      bits[block] = bitOfCoefficient(data[carrier] ?? 0);
    }
  }
  return bits;
}

/**
 * Majority vote of the blocks carrying each bit. The reference keeps a bit when
 * `mean * 255 > 127`, so a tie reads as 1; a bit no block carries reads as 0 (numpy's NaN mean).
 */
export function voteBits(blockBits: Uint8Array, payloadLength: number): Uint8Array {
  const ones = new Uint32Array(payloadLength);
  const votes = new Uint32Array(payloadLength);
  blockBits.forEach((bit, block) => {
    const index = block % payloadLength;
    votes[index] = (votes[index] ?? 0) + 1;
    ones[index] = (ones[index] ?? 0) + bit;
  });
  return Uint8Array.from(votes, (count, index) =>
    count > 0 && ((ones[index] ?? 0) / count) * 255 > 127 ? 1 : 0,
  );
}

export function assertImageSize(rgb: Uint8Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new SdbotError('IMAGE_INVALID', `image size ${width}x${height} is not a positive whole size`);
  }
  if (rgb.length !== width * height * 3) {
    throw new SdbotError(
      'IMAGE_INVALID',
      `image data has ${rgb.length} bytes, expected ${width * height * 3} for ${width}x${height} RGB`,
    );
  }
}

export interface WatermarkReadout {
  /** What the reference decoder reads, one '0'/'1' per payload bit. */
  bits: string;
  /** The bits as UTF-8 text, or null when they are not valid UTF-8. */
  text: string | null;
  /** The bits are exactly the expected payload. */
  match: boolean;
  /** Bits that differ from the expected payload. */
  bitErrors: number;
}

/** Compares what was read with the payload of `expectedText`. */
export function readoutOf(bits: Uint8Array, expected: Uint8Array): WatermarkReadout {
  let bitErrors = 0;
  bits.forEach((bit, index) => {
    if (bit !== expected[index]) bitErrors++;
  });
  return { bits: bitString(bits), text: payloadText(bits), match: bitErrors === 0, bitErrors };
}

/**
 * Reads the watermark of an RGB (HWC, uint8) image exactly as invisible-watermark's
 * `WatermarkDecoder('bytes', nbits).decode(bgr, 'dwtDct')` does, errors included.
 */
export function detectWatermark(
  rgb: Uint8Array,
  width: number,
  height: number,
  expectedText: string = DEFAULT_WATERMARK_TEXT,
): WatermarkReadout {
  assertImageSize(rgb, width, height);
  if (width * height < MIN_PIXELS) {
    throw new SdbotError(
      'IMAGE_INVALID',
      `image is ${width}x${height}: a watermark needs at least 256x256 pixels (65536 pixels)`,
    );
  }
  const expected = payloadBits(expectedText);
  const layout = layoutOf(width, height);
  return readoutOf(
    voteBits(readBlockBits(blueChromaBand(rgb, width, layout), layout), expected.length),
    expected,
  );
}
